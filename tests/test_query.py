"""The query language (spec/query-language.md), table-driven, on SQLite and on PostgreSQL.

One small lake per backend holds six images and a video with known metadata, tags, annotations
and dates; every row of the spec's field table and every example is a query with the exact set
of files it must find. Malformed queries are refused with their exact messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from metalake import Client, InvalidArgumentError, InvalidQueryError
from metalake.lake.lake import lake_database
from metalake.lake.query.compiler import QueryCompiler
from metalake.store.schema import items
from tests.conftest import fresh_postgres_database, upload_and_wait
from tests.media_factory import make_image, make_video

D1, D2, N3, N4, O5, H1 = (
    "img_day_001.jpg",
    "img_day_002.jpg",
    "img_night_003.jpg",
    "img_night_004.png",
    "other_005.jpg",
    "hw_001.jpg",
)
ALL = {D1, D2, N3, N4, O5, H1}
CREATED = {
    D1: datetime(2024, 1, 10, 8, 0, tzinfo=UTC),
    D2: datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
    N3: datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
    N4: datetime(2024, 5, 2, 0, 0, tzinfo=UTC),
    O5: datetime(2025, 1, 1, 0, 0, tzinfo=UTC),
    H1: datetime(2023, 12, 31, 10, 0, tzinfo=UTC),
    "clip.mp4": datetime(2024, 6, 1, tzinfo=UTC),
}
METADATA = {
    D1: {"camera": "CAM_0001", "Camera Id": "CAM_0001", "speed": 30, "weather": "sunny"},
    D2: {"camera": "CAM_0002", "Camera Id": "CAM_0002", "speed": 55.5, "weather": "rain"},
    N3: {"camera": "CAM_0003", "speed": "fast", "weather": "Sunny spells"},
    O5: {"camera": "CAM_0001", "speed": "30", "flag": True},
    H1: {"camera": "CAM_0009"},
}
TAGS = {D1: ["water"], D2: ["water", "city"], N3: ["v-01"], H1: ["city"]}
MACHINE = "yolov5.0.1"


def box(label: str, confidence: float | None = None, **extra: Any) -> dict[str, Any]:
    shape: dict[str, Any] = {"type": "rectangle", "bbox": [1, 1, 10, 10], "label": label}
    if confidence is not None:
        shape["confidence"] = confidence
    return {**shape, **extra}


ANNOTATIONS = {
    ("street", MACHINE, True): {
        D1: [box("car", 0.9), box("car", 0.6), box("person", 0.4)],
        D2: [
            box("car", 0.3),
            box("car", 0.2),
            box("car", 0.95, attributes={"color": [{"value": "red"}]}, metadata={"track": 7}),
        ],
        O5: [{"type": "line", "polygon": [[1, 1], [20, 20]], "label": "lane", "confidence": 0.8}],
    },
    ("street", "human-1", False): {
        D1: [box("car")],
        N3: [
            {
                "type": "polygon",
                "polygon": [[1, 1], [10, 1], [10, 10]],
                "label": "Bird",
                "attributes": {"color": [{"value": "blue"}, {"value": "red"}]},
                "metadata": {"note": "partly hidden"},
            }
        ],
    },
    ("highway", "human-2", False): {H1: [box("person")]},
}


def build_lake(home: Path, database_url: str | None, media: Path) -> None:
    """Upload the files, their metadata and annotations, then pin their dates."""
    street, highway, clips = media / "street", media / "highway", media / "clips"
    for folder in (street, highway, clips):
        folder.mkdir(parents=True)
    for index, name in enumerate((D1, D2, O5)):
        make_image(street / name, (64, 48), color=index)
    make_image(street / N3, (32, 32), color=3)
    make_image(street / N4, (128, 96), color=4)
    make_image(highway / H1, (64, 48), color=5)
    make_video(clips / "clip.mp4", frames=12, fps=24)
    with Client(home=home, database_url=database_url, show_progress=False) as client:
        upload_and_wait(client, str(street), "image", "street")
        upload_and_wait(client, str(highway), "image", "highway")
        upload_and_wait(client, str(clips), "video", "clips")
        files = []
        for name in ALL:
            unique = ("highway_" if name == H1 else "street_") + name
            fields = {**METADATA.get(name, {}), "Tags": TAGS.get(name, [])}
            files.append({"file": unique, "metadata": fields})
        (media / "meta.json").write_text(json.dumps({"files": files}))
        client.upload_metadata_by_unique_name(str(media / "meta.json"))
        for (collection, operation, machine), by_image in ANNOTATIONS.items():
            document = {"images": [{"image": n, "annotations": s} for n, s in by_image.items()]}
            path = media / f"{operation}-{collection}.json"
            path.write_text(json.dumps(document))
            result = client.upload_annotations_for_collection(
                collection, operation, str(path), False, machine
            )
            client.wait_for_job_complete(result["job_id"])
    db = lake_database(home, database_url)
    with db.write() as conn:
        for name, created in CREATED.items():
            conn.execute(
                items.update()
                .where(items.c.file_name == name)
                .values(created=created, modified=created + timedelta(days=1))
            )
    db.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def query_lake(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Client]:
    root = tmp_path_factory.mktemp(f"query-{request.param}")
    with fresh_postgres_database() if request.param == "postgresql" else _no_url() as url:
        build_lake(root / "lake", url, root / "media")
        with Client(home=root / "lake", database_url=url, show_progress=False) as client:
            yield client


class _no_url:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def found(client: Client, query: str, item_type: str = "image", **options: Any) -> set[str]:
    page = client.get_item_list_from_datalake(item_type, query, page_size=1000, **options)
    names = {item["file_name"] for item in page}
    assert client.get_item_count_from_metalake(item_type, query, options.get("filter", {})) == len(
        names
    )
    return names


FIELD_ROWS = [
    # metadata.<key>, MetaData.<key>, quoted keys
    ("metadata.camera = CAM_0001", {D1, O5}),
    ("MetaData.camera=CAM_0001", {D1, O5}),
    ('metadata."Camera Id" = CAM_0002', {D2}),
    ("metadata.camera != CAM_0001", {D2, N3, H1}),
    ("NOT metadata.camera = CAM_0001", {D2, N3, N4, H1}),
    ("metadata.speed = 30", {D1, O5}),
    ('metadata.speed = "30"', {D1, O5}),
    ("metadata.speed > 40", {D2}),
    ("metadata.speed <= 30", {D1}),
    ("metadata.speed != 30", {D2, N3}),
    ("metadata.speed ~ fa", {N3}),
    ('metadata.weather ~ "sunny*"', {D1, N3}),
    ("metadata.weather = sunny", {D1}),
    ("metadata.flag = true", {O5}),
    ("metadata.camera IN [CAM_0002, CAM_0003]", {D2, N3}),
    ("metadata.weather EXISTS", {D1, D2, N3}),
    ("metadata.camera > CAM_0002", {N3, H1}),
    ("metadata.nothing = 1", set()),
    # metadata.Tags and tags
    ("metadata.Tags = water", {D1, D2}),
    ("MetaData.Tags=water", {D1, D2}),
    ("metadata.Tags=v-01", {N3}),
    ("tags = city", {D2, H1}),
    ("tags != water", {N3, N4, O5, H1}),
    ('tags ~ "wat*"', {D1, D2}),
    ("tags IN [city, v-01]", {D2, N3, H1}),
    ("tags EXISTS", {D1, D2, N3, H1}),
    # annotation.label / confidence / type / operation / source
    ("annotation.label=car", {D1, D2}),
    ("annotation.label = Bird", {N3}),
    ("annotation.label != car", {D1, N3, O5, H1}),
    ('annotation.label ~ "p*"', {D1, H1}),
    ("annotation.label EXISTS", {D1, D2, N3, O5, H1}),
    ("annotation.confidence >= 0.9", {D1, D2}),
    ("annotation.confidence < 0.25", {D2}),
    ("annotation.type = polygon", {N3}),
    ("annotation.type = line", {O5}),
    ("annotation.type = rectangle", {D1, D2, H1}),
    ('annotation.operation = "yolov5.0.1"', {D1, D2, O5}),
    ("annotation.operation = human-1", {D1, N3}),
    ("annotation.operation ~ human", {D1, N3, H1}),
    ("annotation.source = human", {D1, N3, H1}),
    ("annotation.source = machine", {D1, D2, O5}),
    ("annotation.source != machine", {D1, N3, H1}),
    # annotation.<attribute> and annotation.metadata.<key>
    ("annotation.color = red", {D2, N3}),
    ("annotation.color = blue", {N3}),
    ("annotation.color EXISTS", {D2, N3}),
    ("annotation.color != blue", {D2, N3}),
    ("annotation.metadata.track = 7", {D2}),
    ("annotation.metadata.track > 5", {D2}),
    ("annotation.metadata.note ~ hidden", {N3}),
    ("annotation.metadata.note EXISTS", {N3}),
    # one annotation satisfies all of annotation(...); separate terms may use different ones
    ("annotation(label=car AND confidence>=0.8)", {D1, D2}),
    ("annotation(label=person AND confidence>0.5)", set()),
    ("annotation.label=person AND annotation.confidence>0.5", {D1}),
    ("annotation(label=car AND source=human)", {D1}),
    ("annotation(label=car AND NOT source=machine)", {D1}),
    ("annotation(color=red AND label=Bird)", {N3}),
    ('annotation(operation="yolov5.0.1" AND type=line)', {O5}),
    # count(...)
    ("count(annotation.label=car) >= 3", {D1, D2}),
    ("count(annotation(label=car AND source=machine)) >= 3", {D2}),
    ("count(annotation(label=car AND confidence>0.5)) >= 2", {D1}),
    ("count() = 0", {N4}),
    ("count() >= 4", {D1}),
    ("count(annotation.label=car) < 1", {N3, N4, O5, H1}),
    ("count(annotation.source=machine) = 3", {D1, D2}),
    ("count(annotation.source=machine) != 3", {N3, N4, O5, H1}),
    ("count(annotation.label=car) > 0 AND count(annotation.label=person) = 0", {D2}),
    ("count(annotation.label IN [car, person]) >= 4", {D1}),
    ("count(annotation.label IN [car, person]) < 1", {N3, N4, O5}),
    ("count(annotation(label = Bird)) = 1", {N3}),
    ("NOT count(annotation.label = car) >= 3", {N3, N4, O5, H1}),
    ("count(annotation.label = nothing) = 0", ALL),
    # name, unique_name, collection, type
    ('name ~ "*_night_*.jpg"', {N3}),
    ("name ~ night", {N3, N4}),
    ('name ~ "IMG_DAY_00?.JPG"', {D1, D2}),
    ("name = hw_001.jpg", {H1}),
    ('name ~ "h?_0*"', {H1}),
    ('name ~ "*Y_0*"', {D1, D2}),
    ('name ~ "100%_x"', set()),
    ("unique_name = street_img_day_001.jpg", {D1}),
    ("collection = highway", {H1}),
    ("collection != highway", {D1, D2, N3, N4, O5}),
    ("collection IN [highway, street]", ALL),
    ("type = image", ALL),
    ("type != image", set()),
    # size, width, height, frame_count, fps, duration
    ("size > 0", ALL),
    ("size <= 0", set()),
    ("width >= 64", {D1, D2, N4, O5, H1}),
    ("height = 32", {N3}),
    ("width > 100 AND height > 90", {N4}),
    ("frame_count EXISTS", set()),
    ("NOT duration > 1", ALL),
    # created, modified
    ("created >= 2024-05-01", {N3, N4, O5}),
    ("created = 2024-05-01", {N3}),
    ("created != 2024-05-01", ALL - {N3}),
    ("created < 2024-01-10", {H1}),
    ("created <= 2024-01-10", {H1, D1}),
    ("created > 2024-05-01", {N4, O5}),
    ("created >= 2024-05-01T23:00:00", {N3, N4, O5}),
    ("created < 2024-05-01T23:30:00+00:00", {D1, D2, H1}),
    ("modified < 2024-01-12", {D1, H1}),
    # keywords, operators and grouping
    ("tags = city || annotation.label = Bird", {D2, N3, H1}),
    ("tags = city or annotation.label = Bird", {D2, N3, H1}),
    ("tags = water && NOT tags = city", {D1}),
    ("!(type = image)", set()),
    ("NOT (tags EXISTS OR annotation.label EXISTS)", {N4}),
    ("not_a_key = 1 OR tags = city", None),
    ("", ALL),
    ("   ", ALL),
]
"""`None` as the expected set: the query must be refused (see MALFORMED)."""

EXAMPLES = [
    ("annotation.label=Bird", {N3}),
    ("metadata.Tags=water AND NOT annotation.label=person", {D2}),
    ('metadata."Camera Id" IN [CAM_0001, CAM_0002] && width>=1920', set()),
    ('metadata."Camera Id" IN [CAM_0001, CAM_0002] && width>=64', {D1, D2}),
    ("count(annotation(label=car AND confidence>0.5)) >= 3", set()),
    ('name ~ "*_night_*.jpg" OR created >= 2024-01-01', {D1, D2, N3, N4, O5}),
    ('annotation.operation = "yolov5.0.1" AND annotation.confidence < 0.3', {D2}),
    # the public LayerNext examples
    ("metadata.Tags=v-01", {N3}),
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [row for row in FIELD_ROWS + EXAMPLES if row[1] is not None],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_query_finds_exactly(query_lake: Client, query: str, expected: set[str]):
    assert found(query_lake, query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("frame_count = 12", {"clip.mp4"}),
        ("fps = 24", {"clip.mp4"}),
        ("duration > 0.4 AND duration < 0.6", {"clip.mp4"}),
        ("width = 64 AND height = 48", {"clip.mp4"}),
        ("type = video AND collection = clips", {"clip.mp4"}),
        ("frame_count > 12", set()),
    ],
)
def test_video_fields(query_lake: Client, query: str, expected: set[str]):
    assert found(query_lake, query, "video") == expected


def test_collection_queries_stay_inside_the_collection(query_lake: Client):
    street = query_lake.get_collection_id_by_name("street")
    page = query_lake.get_item_list_from_collection(street, "tags = city", page_size=100)
    assert [item["file_name"] for item in page] == [D2]
    assert query_lake.get_item_count_from_collection(street, "annotation.source = human") == 2


MALFORMED = [
    # syntax
    ("metadata.size >=", "query error at column 17: expected a value after '>=', found end of query"),
    ("width>=", "query error at column 8: expected a value after '>=', found end of query"),
    ("a = b c = d", "query error at column 7: expected AND, OR or end of query after 'b', found 'c'"),
    ("(a=b", "query error at column 5: expected AND, OR or ')' after 'b', found end of query"),
    ("a=b)", "query error at column 4: expected AND, OR or end of query after 'b', found ')'"),
    ('a = "x', "query error at column 5: expected a value after '=', found a string with no closing '\"'"),
    ('a = "x\\ny"', "query error at column 5: expected a value after '=', found a string with an unknown escape (only \\\" and \\\\ are allowed)"),
    ("name", "query error at column 5: expected an operator (=, !=, <, <=, >, >=, ~), IN or EXISTS after 'name', found end of query"),
    ("a=[", "query error at column 3: expected a value after '=', found '['"),
    ("count(annotation.label=car) ~ 3", "query error at column 29: expected a comparison (=, !=, <, <=, >, >=) and a number after ')', found '~'"),
    ("count(annotation.label=car)", "query error at column 28: expected a comparison (=, !=, <, <=, >, >=) and a number after ')', found end of query"),
    ("a IN [b c]", "query error at column 9: expected ',' or ']' after 'b', found 'c'"),
    ("a IN [b, c", "query error at column 11: expected ',' or ']' after 'c', found end of query"),
    ("a IN [b,]", "query error at column 9: expected a value after ',', found ']'"),
    ("a IN []", "query error at column 7: expected a value after '[', found ']'"),
    ("a IN b", "query error at column 6: expected '[' and a list of values after 'IN', found 'b'"),
    ("metadata.", "query error at column 10: expected a field name after 'metadata.', found end of query"),
    ("AND a=b", "query error at column 1: expected a field, '(' or NOT, found 'AND'"),
    ("a=b AND", "query error at column 8: expected a field, '(' or NOT after 'AND', found end of query"),
    ("a=b OR OR c=d", "query error at column 8: expected a field, '(' or NOT after 'OR', found 'OR'"),
    ("a=b ANDROID c=d", "query error at column 5: expected AND, OR or end of query after 'b', found 'ANDROID'"),
    ("x ==1", "query error at column 4: expected a value after '=', found '='"),
    ("=1", "query error at column 1: expected a field, '(' or NOT, found '='"),
    ("x <> 1", "query error at column 4: expected a value after '<', found '>'"),
    ("annotation(", "query error at column 12: expected a field, '(' or NOT after '(', found end of query"),
    ("NOT", "query error at column 4: expected a field, '(' or NOT after 'NOT', found end of query"),
    ("()", "query error at column 2: expected a field, '(' or NOT after '(', found ')'"),
    # fields and values that parse but mean nothing
    ("foo = 1", "query error at column 1: unknown field 'foo'; fields are name, unique_name, collection, type, tags, size, width, height, frame_count, fps, duration, created, modified, metadata.<key> or annotation.<field>"),
    ("not_a_key = 1 OR tags = city", "query error at column 1: unknown field 'not_a_key'; fields are name, unique_name, collection, type, tags, size, width, height, frame_count, fps, duration, created, modified, metadata.<key> or annotation.<field>"),
    ("name.first = x", "query error at column 1: unknown field 'name.first'; fields are name, unique_name, collection, type, tags, size, width, height, frame_count, fps, duration, created, modified, metadata.<key> or annotation.<field>"),
    ("width >= abc", "query error at column 10: width is a number; expected a number, found 'abc'"),
    ('size = "10"', "query error at column 8: size is a number; expected a number, found '10'"),
    ("width ~ 5", "query error at column 9: '~' compares text, and width is a number"),
    ("created > yesterday", "query error at column 11: created is a date; expected an ISO date like 2024-05-01 or a date-time like 2024-05-01T08:30:00, found 'yesterday'"),
    ("modified ~ 2024", "query error at column 12: '~' compares text, and modified is a date"),
    ("type = picture", "query error at column 8: type is one of image, video, other; found 'picture'"),
    ("annotation.source = robot", "query error at column 21: source is one of human, machine; found 'robot'"),
    ("annotation.source > human", "query error at column 21: source is human or machine; compare it with = or !="),
    ("annotation.type = circle", "query error at column 19: type is one of rectangle, polygon, line, points; found 'circle'"),
    ("annotation.confidence > high", "query error at column 25: confidence is a number; expected a number, found 'high'"),
    ("metadata = 1", "query error at column 1: expected a key after 'metadata.', e.g. metadata.camera"),
    ("annotation = car", "query error at column 1: expected a field after 'annotation.': label, confidence, type, operation, source, metadata.<key> or an attribute name"),
    ("annotation(annotation.label=car)", "query error at column 12: inside annotation(...) write fields without the 'annotation.' prefix, e.g. label"),
    ("annotation(label=car AND annotation(label=x))", "query error at column 26: annotation(...) cannot be nested"),
    ("annotation(count() > 1)", "query error at column 12: count(...) cannot be used inside annotation(...)"),
    ("count(metadata.camera=CAM_0001) > 2", "query error at column 7: count(...) counts annotations; write annotation.<field> or annotation(...) inside it, not 'metadata.camera'"),
    ("count() > two", "query error at column 11: count(...) is a number; expected a number, found 'two'"),
    ("count() > 1.5", "query error at column 11: count(...) compares with a whole number >= 0, found '1.5'"),
    ('count() > "3"', "query error at column 11: expected a number after '>', found '\"3\"'"),
    ("count() >", "query error at column 10: expected a number after '>', found end of query"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "message"), MALFORMED, ids=[q for q, _ in MALFORMED])
def test_malformed_queries_are_refused_with_their_position(
    query_lake: Client, query: str, message: str
):
    with pytest.raises(InvalidQueryError) as refused:
        query_lake.get_item_count_from_metalake("image", query)
    assert str(refused.value) == message


def test_malformed_list_covers_thirty_queries():
    assert len(MALFORMED) >= 30


def test_a_query_is_compiled_once_per_call_and_refused_before_any_sql(
    query_lake: Client, monkeypatch: pytest.MonkeyPatch
):
    compiled: list[object] = []
    compile_query = QueryCompiler.condition

    def counted(self: QueryCompiler, node: Any) -> Any:
        compiled.append(node)
        return compile_query(self, node)

    monkeypatch.setattr(QueryCompiler, "condition", counted)
    query = "annotation.label = car AND tags = a"
    first = query_lake.get_item_count_from_metalake("image", query)
    assert 1 <= len(compiled) <= 3  # the query, then each term whose bitmap it builds
    compiled.clear()
    assert query_lake.get_item_count_from_metalake("image", query) == first
    assert len(compiled) == 1  # the terms' bitmaps are kept

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split()[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
            statements.append(statement)

    engine = query_lake._lake.db.engine  # type: ignore[union-attr]
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        bad = "annotation.label = car AND annotation.operation = x AND nothing = 1"
        with pytest.raises(InvalidQueryError, match="unknown field 'nothing'"):
            query_lake.get_item_count_from_metalake("image", bad)
        with pytest.raises(InvalidQueryError, match="unknown field 'nothing'"):
            query_lake.create_or_update_collection("never made", "image", bad)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert statements == []


def test_a_query_must_be_a_string(query_lake: Client):
    with pytest.raises(InvalidQueryError, match="query must be a string, not int"):
        query_lake.get_item_list_from_datalake("image", 5)


# Filter and sort ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"annotation_types": ["raw"]}, {N4}),
        ({"annotation_types": ["human"]}, {D1, N3, H1}),
        ({"annotation_types": ["machine"]}, {D1, D2, O5}),
        ({"annotation_types": ["raw", "machine"]}, {D1, D2, N4, O5}),
        ({"annotation_types": ["raw", "human", "machine"]}, ALL),
        ({"annotation_types": []}, ALL),
        ({"from_date": "2024-03-05", "to_date": "2024-05-01"}, {D2, N3}),
        ({"from_date": "2024-05-02"}, {N4, O5}),
        ({"to_date": "2024-01-10"}, {H1, D1}),
        ({"to_date": "2024-01-10T07:00:00"}, {H1}),
        ({"annotation_types": ["human"], "from_date": "2024-01-01"}, {D1, N3}),
        ({}, ALL),
    ],
)
def test_filter(query_lake: Client, filter_: dict, expected: set[str]):
    assert found(query_lake, "", filter=filter_) == expected


def test_filter_applies_with_the_query(query_lake: Client):
    result = found(query_lake, "annotation.label = car", filter={"annotation_types": ["human"]})
    assert result == {D1}


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ({"annotation_type": ["raw"]}, "filter has unknown keys ['annotation_type']; it takes annotation_types, from_date, to_date"),
        ({"annotation_types": ["robot"]}, "filter annotation_types must be a list of raw, human, machine, not ['robot']"),
        ({"annotation_types": "raw"}, "filter annotation_types must be a list of raw, human, machine, not 'raw'"),
        ({"from_date": "last week"}, "filter from_date must be an ISO date like 2024-05-01 (or a date-time), not 'last week'"),
        ({"to_date": 20240101}, "filter to_date must be an ISO date like 2024-05-01 (or a date-time), not 20240101"),
        ([], "filter must be a dict, not list"),
    ],
)  # fmt: skip
def test_bad_filters_are_refused(query_lake: Client, filter_: Any, message: str):
    with pytest.raises(InvalidArgumentError) as refused:
        query_lake.get_item_list_from_datalake("image", "", filter_)
    assert str(refused.value) == message


def ordered(client: Client, sort_order: dict, page_size: int = 1000) -> list[dict]:
    pages: list[dict] = []
    index = 0
    while True:
        page = client.get_item_list_from_datalake(
            "image", page_index=index, page_size=page_size, sort_order=sort_order
        )
        if not page:
            return pages
        pages.extend(page)
        index += 1


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("date_modified", lambda i: (i["modified"], i["id"])),
        ("date_created", lambda i: (i["created"], i["id"])),
        ("name", lambda i: (i["file_name"], i["id"])),
        ("size", lambda i: (i["size"], i["id"])),
        ("video_index", lambda i: (i["collection_id"], i["file_name"], i["id"])),
    ],
)
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_sort_orders_are_stable_across_pages(query_lake: Client, field: str, key, direction: str):
    whole = ordered(query_lake, {"sort_by_field": field, "sort_order": direction})
    assert len(whole) == len(ALL)
    assert whole == sorted(whole, key=key, reverse=direction == "DESC")
    paged = ordered(query_lake, {"sort_by_field": field, "sort_order": direction}, page_size=4)
    assert [i["id"] for i in paged] == [i["id"] for i in whole]


def test_default_order_is_newest_change_first(query_lake: Client):
    names = [i["file_name"] for i in query_lake.get_item_list_from_datalake("image")]
    assert names == [O5, N4, N3, D2, D1, H1]


@pytest.mark.parametrize(
    ("sort_order", "message"),
    [
        ({"sort_by_field": "colour"}, "sort_by_field must be one of date_modified, date_created, name, size, video_index, not 'colour'"),
        ({"sort_order": "UP"}, "sort_order must be ASC or DESC, not 'UP'"),
        ({"sort": "name"}, "sort_order has unknown keys ['sort']; it takes sort_by_field and sort_order"),
    ],
)  # fmt: skip
def test_bad_sort_orders_are_refused(query_lake: Client, sort_order: dict, message: str):
    with pytest.raises(InvalidArgumentError) as refused:
        query_lake.get_item_list_from_datalake("image", sort_order=sort_order)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("page_index", "page_size", "message"),
    [
        (0, 1001, "page_size must be between 1 and 1000, not 1001"),
        (0, 0, "page_size must be between 1 and 1000, not 0"),
        (-1, 20, "page_index must be an integer >= 0, not -1"),
    ],
)
def test_page_bounds(query_lake: Client, page_index: int, page_size: int, message: str):
    with pytest.raises(InvalidArgumentError) as refused:
        query_lake.get_item_list_from_datalake("image", page_index=page_index, page_size=page_size)
    assert str(refused.value) == message
    assert len(query_lake.get_item_list_from_datalake("image", page_size=1000)) == len(ALL)
