"""The `/datalake/...` and `/dataset/...` routes the public `layernext` 2.3.x client calls, each
a thin call into the Lake: parse the wire form, call the same Lake method our own API calls,
answer in the wire form (spec/layernext-protocol.md, sections 1-10 and 12).

Every route takes the client's API key and secret as HTTP Basic, like our own API, except the
signed route of dataset export files, which the client fetches without them.
"""

from __future__ import annotations

from fastapi import APIRouter

from metalake.server.layernext import annotations as annotation_routes
from metalake.server.layernext import datasets, items, metadata, uploads

layernext = APIRouter()
for family in (uploads, annotation_routes, metadata, items, datasets):
    layernext.include_router(family.routes)
layernext.include_router(datasets.exports)
