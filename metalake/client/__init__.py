"""The MetaLake SDK."""

from metalake.client.client import Client
from metalake.client.waiting import JobTimeoutError

__all__ = ["Client", "JobTimeoutError"]
