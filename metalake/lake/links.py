"""The lake's port for URLs it cannot make itself: links to download bytes and to send parts.

An object store that serves clients itself (S3) signs its own URLs, and the lake asks it
first. Otherwise the way in supplies `Links`: the server hands out its own signed routes,
so the core never knows a route or a header. An embedded lake has none: its downloads are
`file://` URLs, and it reads uploads from local paths instead of receiving parts.
"""

from __future__ import annotations

from typing import Protocol


class Links(Protocol):
    def download(self, key: str, expires_in: float) -> str:
        """A URL that reads the bytes under `key` until it expires."""
        ...

    def part(self, session_id: str, seq: int, part: int, expires_in: float) -> str:
        """A URL that receives part `part` of file `seq` of an upload session."""
        ...

    def bundle(self, session_id: str, first: int, last: int, expires_in: float) -> str:
        """A URL that receives several small files of a session (numbers first..last)."""
        ...
