"""The MetaLake SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from metalake.errors import JobTimeoutError

if TYPE_CHECKING:
    from metalake.client.client import Client

__all__ = ["Client", "JobTimeoutError"]


def __getattr__(name: str) -> Any:
    """`Client` on first use: it brings the lake's modules, which a CLI's `--help` never needs."""
    if name == "Client":
        from metalake.client.client import Client

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
