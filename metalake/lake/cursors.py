"""Page cursors: where the next page of a listing starts, as the last item's sort keys.

A cursor is URL-safe base64 of JSON `{"sort": [field, direction], "after": [keys..., id]}`,
dates as ISO 8601. Paging by cursor costs the same on page 1 and on page 10,000, where a page
index must skip every earlier match; and files added or removed meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from metalake.errors import InvalidArgumentError
from metalake.lake.selection import SortOrder

MAX_CURSOR_LENGTH = 8192


def encode_cursor(sort: SortOrder, keys: list[Any]) -> str:
    data = {"sort": [sort.sort_by_field, sort.sort_order], "after": keys}
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode()


def decode_cursor(sort: SortOrder, cursor: str, columns: list[sa.ColumnElement]) -> list[Any]:
    """The sort keys a cursor holds, typed as `columns`; refused if it was made for another
    sort order or is not a cursor at all."""
    refused = InvalidArgumentError(
        "cursor is not one a page of this listing gave (next_cursor); start without one"
    )
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise refused
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        after = data["after"]
        same_sort = data["sort"] == [sort.sort_by_field, sort.sort_order]
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise refused from None
    if not same_sort:
        raise InvalidArgumentError(
            "cursor was made for another sort order; use it with the sort_order it came with"
        )
    if not isinstance(after, list) or len(after) != len(columns):
        raise refused
    try:
        return [
            datetime.fromisoformat(v) if isinstance(c.type, sa.DateTime) else v
            for v, c in zip(after, columns, strict=True)
        ]
    except (TypeError, ValueError):
        raise refused from None
