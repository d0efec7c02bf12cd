"""The fast path of annotation uploads against the full checker it stands in for.

The typed decode and inline checks (lake/annotations/fast.py) must accept only what
`parse_document` and `place` accept, with the same shapes; an upload through it must leave the
same rows, counts, job and errors as one through the full checker (each in its own lake, embedded
on SQLite and PostgreSQL); and the PostgreSQL COPY of annotation rows must store what
SQLAlchemy's insert stores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metalake import Client, MetaLakeError
from metalake.client.client import _read_annotation_file
from metalake.lake.annotations import fast
from metalake.lake.annotations.documents import AnnotationFile, parse_document
from metalake.lake.annotations.shapes import Shape, ShapeError, place
from metalake.lake.annotations.store import ROW_COLUMNS, ensure_operation, label_ids
from metalake.lake.file_targets import FileTarget
from metalake.lake.lake import Lake
from metalake.store.bulk import insert_rows
from metalake.store.schema import annotation_rows, item_labels, items, labels, operations
from tests.conftest import fresh_postgres_database, upload_and_wait
from tests.media_factory import make_image

CHECKS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
SIZES = [(64, 48), (1, 1), (320, 240)]

# Documents -----------------------------------------------------------------------------------

NAMES = ["img_000.jpg", "img_001.jpg", "img_002.jpg", "clip.mp4", "missing.jpg"]
odd_numbers = st.sampled_from(
    [True, False, None, "2", 2**63, -(2**63) - 1, 2**64, 10**30, 1e19, -0.0, math.nan, math.inf]
)
coordinates = (
    st.integers(-5, 70)
    | st.floats(-0.1, 1.1)
    | st.floats(-1e6, 1e6, allow_nan=False)
    | st.sampled_from([0, 1, 0.5, 1.0000001, 1 + 1e-7, -1e-7, 47.5, 64, 48, 63.9999999])
)
numbers = coordinates | odd_numbers
labels_ = st.sampled_from(
    ["car", "person", "", " ", "x" * 255, "x" * 256, "a\x00b", "tab\tx", "é", "\x7f", 5, None]
) | st.text(max_size=6)
free = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
"""JSON values that both parsers read the same (integers within 64 bits)."""
attribute_values = st.fixed_dictionaries(
    {"value": free},
    optional={"confidence": numbers, "metadata": free},
)
attributes = (
    st.dictionaries(
        st.sampled_from(["color", "", "a\x01", "size"]),
        st.lists(attribute_values | free, max_size=2) | free,
        max_size=2,
    )
    | free
)
points = st.lists(st.lists(numbers, min_size=1, max_size=3) | free, max_size=4)
SHAPE_FIELDS = {
    "type": st.sampled_from(["rectangle", "rectangle", "polygon", "line", "points", "circle"]),
    "bbox": st.lists(numbers, min_size=3, max_size=5)
    | st.lists(coordinates, min_size=4, max_size=4)
    | free,
    "label": labels_,
    "confidence": numbers | st.floats(0, 1),
    "metadata": st.dictionaries(st.text(max_size=3), free, max_size=2) | free,
    "attributes": attributes,
    "polygon": points,
    "line": points,
    "points": points,
    "operation_id": free,
    "is_model_run": free,
    "color": free,
    "zzz": free,
}
shapes = st.fixed_dictionaries({}, optional=SHAPE_FIELDS) | free
near = st.integers(0, 70) | st.floats(0, 1.2) | st.sampled_from([0.0, 1, 1 + 1e-7, 47.5, 63.99])
good_labels = st.sampled_from(["car", "person", "é"])
optional_fields = {
    "confidence": st.none() | st.floats(0, 1) | st.sampled_from([0, 1]),
    "metadata": st.dictionaries(st.text(max_size=3), plain, max_size=2),
    "attributes": st.just({"color": [{"value": "red", "confidence": 0.5}]}) | st.just({}),
}
rectangles = st.fixed_dictionaries(
    {
        "type": st.just("rectangle"),
        "bbox": st.lists(near, min_size=4, max_size=4),
        "label": good_labels,
    },
    optional=optional_fields,
)
point_shapes = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["polygon", "line", "points"]),
        "polygon": st.lists(st.lists(near, min_size=2, max_size=2), min_size=1, max_size=4),
        "label": good_labels,
    },
    optional=optional_fields,
)


@st.composite
def near_valid_documents(
    draw: st.DrawFn, shapes: Any = rectangles | point_shapes, changes: int = 3
) -> Any:
    """A document of valid-looking shapes with up to `changes` fields set to odd values."""
    document = {
        "images": [
            {
                "image": draw(st.sampled_from(NAMES)),
                "annotations": draw(st.lists(shapes, max_size=4)),
            }
            for _ in range(draw(st.integers(0, 4)))
        ]
    }
    every = [a for e in document["images"] for a in e["annotations"]]
    for _ in range(draw(st.integers(0, changes)) if every else 0):
        shape = draw(st.sampled_from(every))
        name = draw(st.sampled_from(sorted(SHAPE_FIELDS)))
        if draw(st.booleans()) and name in shape:
            del shape[name]
        else:
            shape[name] = draw(SHAPE_FIELDS[name])
    return document


entries = (
    st.fixed_dictionaries(
        {
            "image": st.sampled_from(NAMES) | st.sampled_from(["", "a\x00.jpg", 5]),
            "annotations": st.lists(shapes, max_size=4),
        },
    )
    | free
)
documents = (
    st.fixed_dictionaries({"images": st.lists(entries, max_size=4)}, optional={"x": free}) | free
)
good_documents = near_valid_documents(rectangles, changes=0)
legacy_types = st.sampled_from([None, None, "rectangle", "polygon", "points"])


def encoded(document: Any) -> bytes:
    """The document as a file holds it (NaN and infinities as the literals JSON refuses)."""
    return json.dumps(document, allow_nan=True).encode()


def canonical(shape: Any) -> Any:
    """A checked shape as the fast path gives it (a rectangle as its unscaled PlacedShape)."""
    if isinstance(shape, Shape) and shape.type == "rectangle":
        return ("rectangle", shape.label, *shape.geometry, None, *shape[3:])
    return shape


def checked_by_both(data: bytes, normalized: bool, default_type: str | None) -> tuple[Any, Any]:
    """(the full checker's entries or None if it refuses, the fast path's or None)."""
    typed = fast.decode(data)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        assert typed is None
        return None, None
    try:
        old = parse_document(document, "f.json", normalized, default_type)
    except MetaLakeError:
        old = None
    new = None if typed is None else fast.check(typed, normalized, default_type)
    return old, new


def assert_same_checks(data: bytes, normalized: bool, default_type: str | None) -> Any:
    """The fast path accepts only what the full checker accepts, with the same shapes and the
    same placement (or refusal) on images of each size; returns its entries."""
    old, new = checked_by_both(data, normalized, default_type)
    if new is None:
        return None
    assert old is not None, data
    want = [(e.image, [canonical(s) for s in e.shapes]) for e in old]
    assert repr([(image, [canonical(s) for s in got]) for image, got in new]) == repr(want)
    for (_, got), entry in zip(new, old, strict=True):
        for width, height in SIZES:
            try:
                placed = [place(s, width, height, normalized) for s in entry.shapes]
            except ShapeError:
                placed = None
            assert repr(fast.placed(got, width, height, normalized)) == repr(placed)
    return new


@CHECKS
@given(
    document=documents | near_valid_documents(), normalized=st.booleans(), default_type=legacy_types
)
def test_the_fast_checks_accept_only_what_the_full_checks_accept(
    document: Any, normalized: bool, default_type: str | None
):
    assert_same_checks(encoded(document), normalized, default_type)


@CHECKS
@given(document=good_documents, normalized=st.booleans(), default_type=legacy_types)
def test_the_fast_path_takes_the_common_form(
    document: Any, normalized: bool, default_type: str | None
):
    old, new = checked_by_both(encoded(document), normalized, default_type)
    assert (new is None) == (old is None)
    assert_same_checks(encoded(document), normalized, default_type)


ODD_VALUES: dict[str, list[Any]] = {
    "type": ["circle", None, 1, "Rectangle", "rectangle\x00", "polygon"],
    "bbox": [
        [1, 2, 3],
        [1, 2, 3, 4, 5],
        [1, True, 3, 4],
        [1, 2, "3", 4],
        [1, 2, None, 4],
        [1, 2, -3, 4],
        [1, 2, 3, -0.5],
        [-1, 2, 3, 4],
        [0.5, 0.5, 0.6, 0.1],
        [0.1, 0.95, 0.1, 0.1],
        [60, 2, 10, 20],
        [2, 40, 10, 20],
        [2**63, 2, 3, 4],
        [1, 2, 2**63, 4],
        [1, 2, 3, 2**64],
        [2**64, 2, 3, 4],
        [10**30, 2, 3, 4],
        [1e19, 2, 3, 4],
        [1e-300, 0.0, -0.0, 1e-7],
        {"x": 1},
        "1,2,3,4",
    ],
    "label": ["", " ", "x" * 255, "x" * 256, "a\x00b", "tab\tx", "a\x7fb", 5, None, ["car"]],
    "confidence": [None, 0, 1, 1.5, -0.1, True, "0.5", 2**64, 1e-320],
    "metadata": [None, {}, [], "x", 1, [1], {"a": 2**63}, {"a": "\x00"}, {"\x00": 1}],
    "attributes": [
        None,
        {},
        [],
        "x",
        {"": [{"value": 1}]},
        {"a\x01": [{"value": 1}]},
        {"color": {"value": 1}},
        {"color": [{"confidence": 1}]},
        {"color": [{"value": None}]},
        {"color": [{"value": "red", "confidence": 2}]},
        {"color": [{"value": "red", "metadata": []}]},
        {"color": [{"value": "red", "metadata": {"a": 2**64}}]},
    ],
    "polygon": [[[1, 2]], [[1, 2], [3, 4], [5, 6]], None, "x"],
    "points": [[[1, 2]], [], None],
    "operation_id": ["gt", None, "a\x00", 2**64, {"a": [1]}],
    "is_model_run": [True, 1, None],
    "color": ["#fff", "\x00"],
    "zzz": [1],
}


@pytest.mark.parametrize("field", sorted(ODD_VALUES))
@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("default_type", [None, "rectangle"])
def test_each_odd_field_is_checked_as_the_full_checks_do(
    field: str, normalized: bool, default_type: str | None
):
    base = {"type": "rectangle", "bbox": [0.1, 0.2, 0.3, 0.4], "label": "car", "confidence": 0.5}
    for value in [*ODD_VALUES[field], "absent"]:
        shape = {k: v for k, v in base.items() if k != field}
        if value != "absent":
            shape[field] = value
        for image in ("img_000.jpg", "", "a\x00.jpg"):
            document = {"images": [{"image": image, "annotations": [base, shape]}]}
            old, new = checked_by_both(encoded(document), normalized, default_type)
            assert (new is None) or (old is not None), (field, value)
            assert_same_checks(encoded(document), normalized, default_type)


def test_a_downloaded_file_and_uncommon_shapes_take_the_fast_path():
    shapes = [
        {
            "type": "rectangle",
            "bbox": [1, 2.5, 3, 4],
            "label": "car",
            "metadata": {},
            "attributes": {},
            "operation_id": "gt",
            "is_model_run": False,
        },
        {"type": "polygon", "polygon": [[1, 2], [3, 4], [5, 6]], "label": "road"},
        {"type": "points", "points": [[1, 2]], "label": "eye", "confidence": 1},
    ]
    document = {"images": [{"image": "a.jpg", "annotations": shapes}]}
    assert assert_same_checks(encoded(document), False, None) is not None


# Uploads through a lake ----------------------------------------------------------------------

CAR = {"type": "rectangle", "bbox": [1, 2, 10, 20], "label": "car", "confidence": 0.5}
NORMALIZED_CAR = {**CAR, "bbox": [0.1, 0.2, 0.3, 0.4]}
RICH = {
    **CAR,
    "metadata": {"source": "cam", "n": [1, 2.5, None, "é\t\\"]},
    "attributes": {"color": [{"value": "red", "confidence": 0.9, "metadata": {"by": "x"}}]},
}
ROAD = {"type": "polygon", "polygon": [[0.5, 0.5], [30, 0.5], [30, 40]], "label": "road"}


def doc(*entries: tuple[str, list[Any]]) -> dict[str, Any]:
    return {"images": [{"image": name, "annotations": shapes} for name, shapes in entries]}


UPLOADS: list[tuple[str, Any, bool, str | None]] = [
    ("plain", doc(("img_000.jpg", [CAR, RICH]), ("img_001.jpg", [CAR])), False, None),
    ("normalized", doc(("img_000.jpg", [NORMALIZED_CAR]), ("img_002.jpg", [ROAD])), True, None),
    ("twice", doc(("img_000.jpg", [CAR]), ("img_000.jpg", [RICH, ROAD])), False, None),
    (
        "unknown names",
        doc(("nope.jpg", [CAR]), ("img_001.jpg", [CAR]), ("nope.jpg", [])),
        False,
        None,
    ),
    ("no names match", doc(("nope.jpg", [CAR])), False, None),
    ("empty", doc(), False, None),
    ("bad bbox", doc(("img_000.jpg", [CAR, {**CAR, "bbox": [1, 2, 3]}])), False, None),
    ("bool bbox", doc(("img_000.jpg", [{**CAR, "bbox": [1, True, 3, 4]}])), False, None),
    ("bool confidence", doc(("img_000.jpg", [{**CAR, "confidence": True}])), False, None),
    ("label too long", doc(("img_000.jpg", [{**CAR, "label": "x" * 256}])), False, None),
    ("NaN", doc(("img_000.jpg", [{**CAR, "confidence": math.nan}])), False, None),
    ("NaN in metadata", doc(("img_000.jpg", [{**CAR, "metadata": {"a": math.nan}}])), False, None),
    ("big integer", doc(("img_000.jpg", [{**CAR, "metadata": {"a": 2**64}}])), False, None),
    ("NUL in a name", doc(("img\x00.jpg", [CAR])), False, None),
    (
        "out of 0..1",
        doc(("img_000.jpg", [{**NORMALIZED_CAR, "bbox": [0.9, 0, 0.2, 0.1]}])),
        True,
        None,
    ),
    (
        "outside image",
        doc(("img_001.jpg", [CAR]), ("img_000.jpg", [{**CAR, "bbox": [60, 2, 10, 20]}])),
        False,
        None,
    ),
    ("outside unmatched", doc(("nope.jpg", [{**CAR, "bbox": [1e19, 2, 10, 20]}])), False, None),
    ("unknown field", doc(("img_000.jpg", [{**CAR, "note": "kept"}])), False, None),
    ("not json", "{", False, None),
    (
        "deprecated",
        doc(
            ("img_000.jpg", [{"bbox": [1, 2, 3, 4], "label": "car", "metadata": {"color": "red"}}])
        ),
        False,
        "rectangle",
    ),
    (
        "deprecated, bad",
        doc(("img_000.jpg", [{"bbox": [1, 2, 3, 4], "label": "car"}])),
        False,
        "polygon",
    ),
]


def make_lake(home: Path, database_url: str | None, images: Path) -> Client:
    client = Client(home=home, database_url=database_url, show_progress=False)
    upload_and_wait(client, str(images), "image", "Traffic")
    return client


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        make_image(folder / f"img_{i:03d}.jpg", color=i)
    return folder


@pytest.fixture
def two_lakes(
    tmp_path: Path, images: Path, database_url: str | None
) -> Iterator[tuple[Client, Client]]:
    """Two lakes holding the same images: one for the fast path, one for the full checks."""
    if database_url is None:
        with (
            make_lake(tmp_path / "a", None, images) as a,
            make_lake(tmp_path / "b", None, images) as b,
        ):
            yield a, b
        return
    with (
        fresh_postgres_database() as other,
        make_lake(tmp_path / "a", database_url, images) as a,
        make_lake(tmp_path / "b", other, images) as b,
    ):
        yield a, b


def lake_of(client: Client) -> Lake:
    """The embedded lake of a client."""
    assert client._lake is not None
    return client._lake


def outcome(run: Any) -> Any:
    try:
        return run()
    except MetaLakeError as exc:
        return type(exc).__name__, str(exc)


def job_of(client: Client, result: Any) -> Any:
    if not isinstance(result, dict):
        return result
    waited = client.wait_for_job_complete(result["job_id"])
    job = client.get_job(result["job_id"])
    kept = ("status", "total", "done", "skipped", "failed", "errors", "message")
    answer = {k: v for k, v in result.items() if k != "job_id"}
    return answer, waited, {k: job[k] for k in kept}


def stored(client: Client) -> Any:
    """What a lake holds of annotations, by file name: rows in upload order, label counts."""
    with lake_of(client).db.read() as conn:
        rows = conn.execute(
            sa.select(
                items.c.file_name,
                operations.c.name,
                operations.c.is_model_run,
                *(annotation_rows.c[c] for c in ROW_COLUMNS[2:] if c != "label_id"),
                labels.c.name,
            )
            .join(items, items.c.id == annotation_rows.c.item_id)
            .join(operations, operations.c.id == annotation_rows.c.operation_id)
            .join(labels, labels.c.id == annotation_rows.c.label_id)
            .order_by(items.c.file_name, annotation_rows.c.id)
        ).all()
        counts = conn.execute(
            sa.select(items.c.file_name, labels.c.name, item_labels.c.count)
            .join(items, items.c.id == item_labels.c.item_id)
            .join(labels, labels.c.id == item_labels.c.label_id)
            .order_by(items.c.file_name, labels.c.name)
        ).all()
        changed = conn.execute(
            sa.select(items.c.file_name).where(items.c.modified > items.c.created)
        ).scalars()
        return [tuple(r) for r in rows], [tuple(r) for r in counts], sorted(changed)


@pytest.mark.parametrize(
    ("document", "normalized", "shape_type"),
    [pytest.param(d, n, s, id=name) for name, d, n, s in UPLOADS],
)
def test_an_upload_by_the_fast_path_equals_one_by_the_full_checks(
    two_lakes: tuple[Client, Client],
    tmp_path: Path,
    document: Any,
    normalized: bool,
    shape_type: str | None,
):
    fast_lake, full_lake = two_lakes
    path = tmp_path / "labels.json"
    path.write_bytes(document.encode() if isinstance(document, str) else encoded(document))
    target = FileTarget("collection", collection_name="Traffic", content_type="image")
    for operation in ("gt", "gt", "other"):  # a new operation, a replace, a second operation

        def by_fast_path(operation: str = operation) -> Any:
            return fast_lake._annotations(
                target, operation, str(path), normalized, False, shape_type
            )

        def by_full_checks(operation: str = operation) -> Any:
            annotation_file = _read_annotation_file(
                str(path), operation, normalized, False, shape_type
            )
            assert annotation_file.text is None
            return lake_of(full_lake).upload_annotations(target, annotation_file)

        got = job_of(fast_lake, outcome(by_fast_path))
        want = job_of(full_lake, outcome(by_full_checks))
        assert got == want
        assert stored(fast_lake) == stored(full_lake)


def test_the_embedded_client_reads_a_file_for_the_fast_path(tmp_path: Path):
    path = tmp_path / "labels.json"
    path.write_bytes(encoded(doc(("img_000.jpg", [CAR]))))
    annotation_file = _read_annotation_file(str(path), "gt", False, False, None, typed=True)
    assert annotation_file.document is None and annotation_file.fast_entries is not None
    assert (
        annotation_file.to_json() == AnnotationFile.from_json(annotation_file.to_json()).to_json()
    )
    assert annotation_file.to_json()["document"] == doc(("img_000.jpg", [CAR]))


# The PostgreSQL COPY -------------------------------------------------------------------------

ODD_TEXT = ["plain", "tab\there", "new\nline", "back\\slash", 'quote"s', "é€😀", "\\N", ""]


def test_the_postgresql_copy_stores_what_an_insert_stores(
    postgres_url: str, tmp_path: Path, images: Path
):
    with make_lake(tmp_path / "lake", postgres_url, images) as client:
        lake = lake_of(client)
        with lake.db.write() as conn:
            item_ids = sorted(conn.execute(sa.select(items.c.id)).scalars())
            ids = label_ids(conn, ["car", "tab\tlabel", "é"])
            by_copy = ensure_operation(conn, "copy", False)
            by_insert = ensure_operation(conn, "insert", False)
            values: list[tuple[Any, ...]] = []
            for n, text in enumerate(ODD_TEXT):
                label = list(ids.values())[n % len(ids)]
                points = None if n % 2 else json.dumps([[n, 0.1 * n], [1e-300, 1.5e300]])
                metadata = None if n % 3 == 1 else json.dumps({"t": text, "n": [n, None, True]})
                attributes = None if n % 3 == 2 else json.dumps({"a": [{"value": text}]})
                confidence = None if n % 4 == 3 else n / 7
                geometry = (n / 3, -0.0 if n == 1 else n * 1e-9, 1e15 + n, 2.5)
                kind = "polygon" if points else "rectangle"
                item_id = item_ids[n % len(item_ids)]
                values.append(
                    (item_id, kind, label, *geometry, points, confidence, metadata, attributes)
                )
            assert conn.dialect.name == "postgresql"
            insert_rows(
                conn, annotation_rows, ROW_COLUMNS, [(v[0], by_copy, *v[1:]) for v in values]
            )
            conn.execute(
                annotation_rows.insert(),
                [
                    dict(zip(ROW_COLUMNS, (v[0], by_insert, *v[1:]), strict=True))
                    | {
                        c: None if v[i - 1] is None else json.loads(v[i - 1])
                        for i, c in ((8, "points"), (10, "metadata"), (11, "attributes"))
                    }
                    for v in values
                ],
            )

        def rows(operation_id: int) -> list[tuple[Any, ...]]:
            columns = [annotation_rows.c[c] for c in ROW_COLUMNS if c != "operation_id"]
            with lake.db.read() as conn:
                found = conn.execute(
                    sa.select(*columns)
                    .where(annotation_rows.c.operation_id == operation_id)
                    .order_by(annotation_rows.c.id)
                ).all()
            return [tuple(r) for r in found]

        copied = rows(by_copy)
        assert len(copied) == len(ODD_TEXT)
        assert copied == rows(by_insert)
        assert next(r[-1] for r in copied if r[-1] is not None) == {"a": [{"value": "plain"}]}


# Label counts ----------------------------------------------------------------------------------


def recounted(client: Client) -> tuple[list[tuple], list[tuple]]:
    """The lake's label counts, and a recount of its annotation rows by a query of its own."""
    with lake_of(client).db.read() as conn:
        kept = conn.execute(
            sa.select(item_labels.c.item_id, item_labels.c.label_id, item_labels.c.count).order_by(
                item_labels.c.item_id, item_labels.c.label_id
            )
        ).all()
        counted = conn.execute(
            sa.select(annotation_rows.c.item_id, annotation_rows.c.label_id, sa.func.count())
            .group_by(annotation_rows.c.item_id, annotation_rows.c.label_id)
            .order_by(annotation_rows.c.item_id, annotation_rows.c.label_id)
        ).all()
    return [tuple(r) for r in kept], [tuple(r) for r in counted]


def test_label_counts_equal_a_recount_after_every_kind_of_write(
    tmp_path: Path, images: Path, database_url: str | None
):
    box = {"type": "rectangle", "bbox": [1, 1, 5, 5]}

    def write(operation: str, by_image: dict[str, list[str]], machine: bool = False) -> None:
        document = {
            "images": [
                {"image": image, "annotations": [{**box, "label": label} for label in names]}
                for image, names in by_image.items()
            ]
        }
        path = tmp_path / f"{operation}.json"
        path.write_bytes(encoded(document))
        result = client.upload_annotations_for_collection(
            "Traffic", operation, str(path), False, machine
        )
        assert client.wait_for_job_complete(result["job_id"])["is_success"]

    with make_lake(tmp_path / "lake", database_url, images) as client:
        write("gt", {"img_000.jpg": ["car", "car", "bus"], "img_001.jpg": ["car"]})
        write("model", {"img_000.jpg": ["car", "person"], "img_002.jpg": ["bus"]}, machine=True)
        write("gt", {"img_000.jpg": ["bus"], "img_002.jpg": ["car", "car"], "img_001.jpg": []})
        kept, counted = recounted(client)
        assert kept == counted
        assert sorted(c for _, _, c in kept) == [1, 1, 1, 1, 2]
        client.remove_annotations(client.get_collection_id_by_name("Traffic"), "model")
        kept, counted = recounted(client)
        assert kept == counted
        assert sorted(c for _, _, c in kept) == [1, 2]
