"""Fuzzing the JSON readers: metadata, annotation files, upload requests, selections and the
LayerNext decoders. Every input either works (into something the store keeps the same on SQLite
and PostgreSQL) or raises the documented MetaLakeError, never TypeError, KeyError,
AttributeError, OverflowError or RecursionError, and quickly. The readers are pure, so the lake
cannot change. `METALAKE_FUZZ_EXAMPLES` sets the examples per reader (default small).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metalake.errors import (
    InvalidAnnotationFileError,
    InvalidArgumentError,
    InvalidMetadataFileError,
    MetaLakeError,
)
from metalake.lake.annotations.documents import AnnotationFile, parse_document
from metalake.lake.ingest import check_upload, request_from_json
from metalake.lake.metadata import MetadataChange, parse_file_metadata, parse_metadata_object
from metalake.lake.selection import ItemFilter, ItemSelection, SortOrder
from metalake.server.layernext import wire

EXAMPLES = int(os.environ.get("METALAKE_FUZZ_EXAMPLES", "150"))
TIME_BOX_S = 2.0
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Values --------------------------------------------------------------------------------------

NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\n", "tab\t", "\x1f", "\x7f", "\u202e", "..", "/a"]
text = st.text(max_size=20) | st.sampled_from(NASTY_TEXT) | st.just("x" * 5000)
numbers = (
    st.integers()
    | st.sampled_from([MAX_INT, MAX_INT + 1, MIN_INT, MIN_INT - 1, 10**400, -(10**30)])
    | st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=16,
)


def nested(depth: int) -> Any:
    """A list `depth` levels deep around a dict `depth` levels deep."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": [value]}
    return value


deep = st.sampled_from([40, 300]).map(nested)
anything = json_values | deep


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


def _replaced(value: Any, path: tuple, new: Any, how: str) -> Any:
    if not path:
        return [value] if how == "wrap" else new
    head, rest = path[0], path[1:]
    copy = dict(value) if isinstance(value, dict) else list(value)
    if not rest and how == "delete":
        del copy[head]
    elif not rest and how == "add" and isinstance(copy, dict):
        copy[f"{head}_extra"] = new
    else:
        copy[head] = _replaced(value[head], rest, new, how)
    return copy


@st.composite
def mutated(draw: st.DrawFn, valid: Any) -> Any:
    """`valid` with one value replaced, deleted, wrapped in a list, or a key added beside it."""
    path = draw(st.sampled_from(_paths(valid)))
    how = draw(st.sampled_from(["replace", "delete", "wrap", "add"]))
    if how == "delete" and not path:
        how = "replace"
    return _replaced(valid, path, draw(anything), how)


def near(valid: Any) -> st.SearchStrategy[Any]:
    """Documents like `valid`, mutated once or twice, or left valid."""
    return st.just(valid) | mutated(valid) | mutated(valid).flatmap(mutated)


# The property --------------------------------------------------------------------------------


def works_or_refuses(call: Callable[[], Any], error: type[MetaLakeError]) -> Any:
    """The result of `call`, or None if it raised `error`; anything else fails the test."""
    start = time.perf_counter()
    try:
        return call()
    except error:
        return None
    finally:
        assert time.perf_counter() - start < TIME_BOX_S


def assert_storable(value: Any) -> None:
    """What PostgreSQL and SQLite both keep exactly: no NUL, 64-bit integers, finite floats."""
    orjson.dumps(value)  # refuses integers beyond 64 bits and nesting beyond 255
    for string in _strings(value):
        assert "\x00" not in string
    for number in _numbers(value):
        assert math.isfinite(number)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _numbers(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [n for v in value for n in _numbers(v)]
    return []


def assert_names_clean(names: list[str]) -> None:
    for name in names:
        assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name), repr(name)


def check_change(change: MetadataChange | None) -> None:
    if change is not None:
        assert_storable(change.to_json())
        assert_names_clean([*change.fields, *change.tags])


# Metadata ------------------------------------------------------------------------------------

VALID_METADATA = {"weather": "sunny", "speed": 12.5, "count": 3, "ok": True, "Tags": ["a", "b"]}
VALID_FILE_METADATA = {"files": [{"file": "a.jpg", "metadata": VALID_METADATA}]}


@FUZZ
@given(anything | near(VALID_METADATA))
def test_metadata_object(value):
    check_change(works_or_refuses(lambda: parse_metadata_object(value), InvalidArgumentError))


@FUZZ
@given(anything | near(VALID_FILE_METADATA))
def test_file_metadata_document(document):
    entries = works_or_refuses(
        lambda: parse_file_metadata(document, "m.json"), InvalidMetadataFileError
    )
    for entry in entries or []:
        assert isinstance(entry.file, str)
        check_change(entry.change)


# Annotations ---------------------------------------------------------------------------------

VALID_ANNOTATIONS = {
    "images": [
        {
            "image": "a.jpg",
            "annotations": [
                {
                    "type": "rectangle",
                    "bbox": [1, 2, 3, 4],
                    "label": "car",
                    "confidence": 0.5,
                    "metadata": {"k": "v"},
                    "attributes": {"color": [{"value": "red", "confidence": 1}]},
                },
                {"type": "polygon", "points": [[0, 0], [1, 0], [1, 1]], "label": "roof"},
            ],
        }
    ]
}
VALID_ANNOTATION_FILE = {
    "document": VALID_ANNOTATIONS,
    "operation_id": "op-1",
    "is_model_run": True,
    "is_normalized": False,
    "shape_type": None,
    "source": "labels.json",
}


def check_entries(entries: list | None) -> None:
    for entry in entries or []:
        for shape in entry.shapes:
            assert_storable([shape.geometry, shape.confidence, shape.metadata, shape.attributes])
            assert_names_clean([shape.label, *(shape.attributes or {})])


@FUZZ
@given(anything | near(VALID_ANNOTATIONS), st.booleans())
def test_annotation_document(document, normalized):
    entries = works_or_refuses(
        lambda: parse_document(document, "labels.json", normalized), InvalidAnnotationFileError
    )
    check_entries(entries)
    if entries is not None:
        assert_storable(document)  # kept whole with the job that applies it


@FUZZ
@given(anything | near(VALID_ANNOTATION_FILE))
def test_annotation_file(data):
    def read() -> AnnotationFile:
        annotation_file = AnnotationFile.from_json(data)
        check_entries(annotation_file.entries)
        return annotation_file

    annotation_file = works_or_refuses(read, InvalidArgumentError)
    if annotation_file is not None:
        assert_storable(annotation_file.to_json())


# Upload requests -----------------------------------------------------------------------------

VALID_UPLOAD = {
    "collection_name": "col",
    "content_type": "image",
    "files": [{"file_name": "a.jpg", "size": 10, "metadata": {"k": 1}}],
    "metadata": {"Tags": ["t"]},
    "override_metadata": False,
    "replace_files": True,
    "storage_prefix": "pre/fix",
    "annotations": {**VALID_ANNOTATION_FILE, "document": {"images": []}},
}


def read_upload(data: Any) -> Any:
    """An upload request as the server reads it: decoded, then checked as every upload is."""
    request = request_from_json(data)
    check_upload(request)
    return request


@FUZZ
@given(anything | near(VALID_UPLOAD))
def test_upload_request(data):
    request = works_or_refuses(lambda: read_upload(data), InvalidArgumentError)
    if request is not None:
        for f in request.files:
            assert f.size is None or MIN_INT <= f.size <= MAX_INT
            check_change(f.metadata)
        check_change(request.metadata)
        assert isinstance(request.collection_name, str)
        assert isinstance(request.override_metadata, bool)
        assert request.storage_prefix is None or isinstance(request.storage_prefix, str)


# Selections ----------------------------------------------------------------------------------

VALID_SELECTION = {
    "content_type": "image",
    "query": "metadata.weather = sunny",
    "filter": {"annotation_types": ["raw", "human"], "from_date": "2024-05-01"},
}


@FUZZ
@given(anything | near(VALID_SELECTION) | near({**VALID_SELECTION, "collection_id": "0" * 24}))
def test_item_selection(data):
    selection = works_or_refuses(lambda: ItemSelection.from_json(data), InvalidArgumentError)
    if selection is not None:
        assert ItemSelection.from_json(selection.to_json()) == selection


@FUZZ
@given(anything | near({"sort_by_field": "size", "sort_order": "asc"}))
def test_sort_order(data):
    works_or_refuses(lambda: SortOrder.from_object(data), InvalidArgumentError)


# LayerNext decoders --------------------------------------------------------------------------


@FUZZ
@given(anything)
def test_layernext_codes_and_buckets(value):
    works_or_refuses(lambda: wire.content_type_of(value), InvalidArgumentError)
    bucket = works_or_refuses(lambda: wire.bucket_of(value), InvalidArgumentError)
    assert bucket is None or isinstance(bucket, str)


@FUZZ
@given(text | st.booleans() | st.none())
def test_layernext_flag(value):
    assert isinstance(wire.flag(value), bool)


VALID_FILTER_DATA = {"annotationTypes": [0, 2], "date": {"fromDate": "2024-01-01"}}


@FUZZ
@given(anything | near(VALID_FILTER_DATA))
def test_layernext_filter(value):
    ours = works_or_refuses(lambda: wire.item_filter(value), InvalidArgumentError)
    if ours is not None:
        works_or_refuses(lambda: ItemFilter.from_object(ours), InvalidArgumentError)


@FUZZ
@given(anything | near({"sortByField": 4, "sortOrder": "ASC"}))
def test_layernext_sort(value):
    ours = works_or_refuses(lambda: wire.sort_order(value), InvalidArgumentError)
    works_or_refuses(lambda: SortOrder.from_object(ours), InvalidArgumentError)


@FUZZ
@given(st.dictionaries(text, anything, max_size=4) | near({"car": {"color": ["red", "blue"]}}))
def test_layernext_label_references(labels):
    if isinstance(labels, dict):
        refs = works_or_refuses(lambda: wire.label_references(labels), InvalidArgumentError)
        assert refs is None or set(refs) == set(labels)


VALID_ANNOTATION_OBJECT = {
    "type": "rectangle",
    "boxBoundariesAndDimensions": {"x": 1, "y": 2, "w": 3, "h": 4},
    "points": [[1, 2], [4, 6]],
    "confidence": 0.9,
    "metadata": {"k": "v"},
    "label": {"labelText": "car", "attributeValues": {"color": [{"value": "red"}]}},
}


@FUZZ
@given(anything | near(VALID_ANNOTATION_OBJECT) | near({**VALID_ANNOTATION_OBJECT, "type": "line"}))
def test_layernext_annotation_into_our_document(obj):
    def read() -> list:
        ours = wire.annotation(obj)
        return parse_document({"images": [{"image": "a.jpg", "annotations": [ours]}]}, "b", False)

    check_entries(works_or_refuses(read, InvalidArgumentError))


@FUZZ
@given(anything | near([{"objectKey": "a", "data": {}}]) | text)
def test_layernext_metadata_updates(value):
    entries = works_or_refuses(lambda: wire.metadata_updates(value), InvalidArgumentError)
    if entries is not None:
        assert all(isinstance(e, dict) for e in entries)


@pytest.mark.parametrize(
    ("reader", "value", "error"),
    [
        (parse_metadata_object, {"n": 2**63}, "beyond 64 bits"),
        (parse_metadata_object, {"n": -(2**63) - 1}, "beyond 64 bits"),
        (parse_metadata_object, {"n": float("nan")}, "not a finite number"),
        (parse_metadata_object, {"s": "a\x00b"}, "NUL"),
        (parse_metadata_object, {"a\x00": 1}, "control characters"),
        (parse_metadata_object, {"a\nb": 1}, "control characters"),
        (parse_metadata_object, {"Tags": ["a\x00"]}, "control character"),
        (
            lambda v: parse_document(v, "l.json", False),
            {
                "images": [
                    {
                        "image": "a",
                        "annotations": [
                            {"type": "rectangle", "bbox": [1, 2, 3, 4], "label": "x\x00"}
                        ],
                    }
                ]
            },
            "control character",
        ),
        (
            lambda v: parse_document(v, "l.json", False, "rectangle"),
            {"images": [], "note": 10**20},
            "beyond 64 bits",
        ),
        (lambda v: parse_document(v, "l.json", False), {"images": [], "x": nested(200)}, "deeper"),
        (read_upload, {**VALID_UPLOAD, "collection_name": None}, "collection name"),
        (read_upload, {**VALID_UPLOAD, "storage_prefix": 5}, "storage_prefix"),
        (read_upload, {**VALID_UPLOAD, "files": [5]}, "needs a file_name"),
        (read_upload, {**VALID_UPLOAD, "files": [{"file_name": "a", "size": 1e300}]}, "size"),
        (read_upload, {**VALID_UPLOAD, "replace_files": "false"}, "true or false"),
        (ItemSelection.from_json, {**VALID_SELECTION, "qeury": "x"}, "unknown keys"),
        (SortOrder.from_object, {"sort_by_field": ["size"]}, "sort_by_field"),
        (ItemFilter.from_object, {"annotation_types": 5}, "annotation_types"),
        (wire.item_filter, {"date": ["x"]}, "filterData.date"),
        (wire.sort_order, ["x"], "sortBy"),
        (wire.content_type_of, [2], "collection type"),
        (wire.bucket_of, 5, "bucketName"),
        (wire.label_references, {"car": ["red"]}, "labels.car"),
        (wire.annotation, {"label": "car"}, "label must be an object"),
    ],
)
def test_inputs_the_fuzzers_found_are_refused(reader, value, error):
    with pytest.raises(InvalidArgumentError, match=error):
        reader(value)
