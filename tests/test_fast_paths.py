"""The bitmap counts and pages (lake/listing.py) answer exactly what the plain SQL query does.

A small lake of real images with metadata, tags and two annotation operations, in an uploaded
collection and a collection of added files, is asked random selections (queries of AND, OR and
NOT over every kind of term, scopes, filters, sort orders, pages) through the fast path and
through the plain query, before and after each kind of write: uploads, metadata updates,
annotation replacement and removal, trash, restore, empty trash, add to collection, and a raw
SQL write no lake code made. The same Lake keeps its term bitmaps across the writes, so every
patch from the change log is checked; every selection is paged by each strategy in turn.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from metalake import Client
from metalake.lake import listing, records
from metalake.lake.lake import Lake
from metalake.lake.query import order_buckets
from metalake.lake.selection import SORT_FIELDS, ItemSelection, SortOrder
from metalake.store.schema import (
    annotation_rows,
    item_labels,
    item_metadata,
    item_tags,
    items,
    labels,
    operations,
)
from tests.conftest import upload_and_wait
from tests.media_factory import make_image

LABELS = ("car", "person", "dog")
CAMERAS = ("CAM_0", "CAM_1", "CAM_2")
TAGS = ("day", "night", "city")
LEAVES = (
    "metadata.camera = CAM_1",
    "metadata.camera != CAM_2",
    "metadata.camera IN [CAM_0, CAM_2]",
    "metadata.speed >= 100",
    "metadata.speed < 50",
    "metadata.speed EXISTS",
    "tags = day",
    "tags != night",
    "tags ~ ci",
    "annotation.label = car",
    "annotation.label = dog",
    "annotation.label IN [person, dog]",
    "annotation(label = car AND confidence >= 0.5)",
    "annotation.operation = model",
    "annotation.source = human",
    "count(annotation.label = car) >= 2",
    "count(annotation.label IN [car, dog]) = 0",
    "count(annotation.confidence > 0.7) >= 1",
    'name ~ "*_1*"',
    "collection = picked",
    "width > 40",
    "size < 2000",
)
FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"annotation_types": ["raw"]},
    {"annotation_types": ["machine", "human"]},
    {"annotation_types": ["human"]},
    {"from_date": "2000-01-01"},
    {"to_date": "2000-01-01"},
)
STRATEGIES = {
    "chosen": {},
    "buckets": {"FEW_MATCHES": 0},
    "walk": {"BUCKETED": (), "CANDIDATE_LIMIT": 0, "WALK_LIMIT": 10**9, "FEW_MATCHES": 0},
    "sorted-matches": {"BUCKETED": (), "WALK_LIMIT": 0, "CANDIDATE_LIMIT": 10**9},
    "plain": {"BUCKETED": (), "WALK_LIMIT": 0, "CANDIDATE_LIMIT": 0},
}


@pytest.fixture(autouse=True)
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Order buckets of a few items, so that pages cross several of them, patched rather than
    cut again however uneven writes make them, and used for pages of whole scopes too."""
    monkeypatch.setattr(order_buckets, "BUCKETS", 20)
    monkeypatch.setattr(order_buckets, "MIN_BUCKET", 1)
    monkeypatch.setattr(order_buckets, "REBUILD_FACTOR", 10**6)
    monkeypatch.setattr(listing, "SHALLOW", 2)


def random_query(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.4:
        return rng.choice(LEAVES)
    if roll < 0.55:
        return f"NOT ({random_query(rng, depth + 1)})"
    operator = " AND " if roll < 0.8 else " OR "
    parts = [random_query(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    return "(" + operator.join(parts) + ")"


def make_files(folder: Path, rng: random.Random, first: int, n: int) -> dict[str, Any]:
    """n images and, by file name, their metadata and two operations' annotations."""
    folder.mkdir(parents=True)
    meta, model, human = [], [], []
    for index in range(first, first + n):
        name = f"img_{index:03d}.jpg"
        make_image(folder / name, (32 + 8 * (index % 4), 32), color=index)
        fields: dict[str, Any] = {"camera": rng.choice(CAMERAS)}
        if rng.random() < 0.8:
            fields["speed"] = rng.randrange(200)
        fields["Tags"] = rng.sample(TAGS, rng.randint(0, 2))
        meta.append({"file": name, "metadata": fields})
        boxes = [
            {
                "type": "rectangle",
                "bbox": [1, 1, 5, 5],
                "label": rng.choice(LABELS),
                "confidence": round(rng.random(), 2),
            }
            for _ in range(rng.randint(0, 3))
        ]
        if boxes:
            model.append({"image": name, "annotations": boxes})
        if rng.random() < 0.4:
            shape = {"type": "rectangle", "bbox": [2, 2, 4, 4], "label": rng.choice(LABELS)}
            human.append({"image": name, "annotations": [shape]})
    return {"meta": meta, "model": model, "human": human}


def upload(client: Client, root: Path, name: str, rng: random.Random, first: int, n: int) -> None:
    folder = root / f"{name}-{first}"
    made = make_files(folder, rng, first, n)
    meta_path = root / f"{name}-{first}-meta.json"
    meta_path.write_text(json.dumps({"files": made["meta"]}))
    upload_and_wait(client, str(folder), "image", name, file_meta_data_json_path=str(meta_path))
    for operation, machine in (("model", True), ("human", False)):
        if made[operation]:
            annotate(client, root, name, operation, machine, made[operation])


def annotate(
    client: Client, root: Path, collection: str, operation: str, machine: bool, images: list
) -> None:
    path = root / f"{collection}-{operation}-{len(images)}-{random.random()}.json"
    path.write_text(json.dumps({"images": images}))
    job = client.upload_annotations_for_collection(collection, operation, str(path), False, machine)
    client.wait_for_job_complete(job["job_id"])


@pytest.fixture
def lake_client(tmp_path: Path, database_url: str | None) -> Iterator[Client]:
    with Client(home=tmp_path / "lake", database_url=database_url, show_progress=False) as client:
        rng = random.Random(7)
        upload(client, tmp_path, "street", rng, 0, 16)
        upload(client, tmp_path, "park", rng, 100, 10)
        client.create_or_update_collection("picked", "image", "metadata.camera = CAM_1")
        yield client


def plain(
    lake: Lake, selection: ItemSelection, sort: SortOrder, page_index: int, size: int
) -> tuple[int, list[str]]:
    with lake.db.read() as conn:
        found = records.page(conn, selection.ids(conn), sort.columns(), page_index, size)
        return records.count(conn, selection.ids(conn)), [item["id"] for item in found]


def fast(
    lake: Lake, selection: ItemSelection, sort: SortOrder, page_index: int, size: int
) -> tuple[int, list[str]]:
    found = lake.list_items(selection, sort, page_index, size)
    return lake.count_items(selection), [item["id"] for item in found]


def check_random_selections(client: Client, rng: random.Random, rounds: int) -> None:
    lake = client._lake  # type: ignore[attr-defined]
    assert isinstance(lake, Lake)
    with lake.db.read() as conn:
        names = dict(conn.execute(sa.text("SELECT name, id FROM collections")).all())
    for _ in range(rounds):
        scope = rng.choice([None, "street", "park", "picked"])
        query = random_query(rng) if rng.random() < 0.85 else ""
        filter = rng.choice(FILTERS)
        if scope is None or scope not in names:
            selection = ItemSelection.of("image", query=query, filter=filter)
        else:
            selection = ItemSelection.of(collection_id=names[scope], query=query, filter=filter)
        sort = SortOrder(rng.choice(list(SORT_FIELDS)), rng.choice(["ASC", "DESC"]))
        page_index, size = rng.randint(0, 2), rng.randint(1, 7)
        expected = plain(lake, selection, sort, page_index, size)
        for strategy, limits in STRATEGIES.items():
            with pytest.MonkeyPatch.context() as patch:
                for name, value in limits.items():
                    patch.setattr(listing, name, value)
                answer = fast(lake, selection, sort, page_index, size)
            assert answer == expected, (strategy, selection, sort, page_index, size)
        if rng.random() < 0.3:
            assert lake.facets(selection, FACET_FIELDS, 1000) == plain_facets(lake, selection)
        if rng.random() < 0.3:
            assert (
                by_cursor(lake, selection, sort, size) == plain(lake, selection, sort, 0, 1000)[1]
            )


def by_cursor(lake: Lake, selection: ItemSelection, sort: SortOrder, size: int) -> list[str]:
    """Every selected id, page after page by cursor."""
    found: list[str] = []
    cursor = None
    while True:
        page = lake.item_page(selection, sort, size, cursor)
        found.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


FACET_FIELDS = ["label", "tag", "operation", "metadata.camera", "metadata.speed"]


def plain_facets(lake: Lake, selection: ItemSelection) -> dict[str, Any]:
    """Facets by SQL GROUP BY over the selected items, sorted as facets are."""
    with lake.db.read() as conn:
        chosen = selection.ids(conn)
        pairs = {
            "label": sa.select(labels.c.name, item_labels.c.item_id).join(
                labels, labels.c.id == item_labels.c.label_id
            ),
            "tag": sa.select(item_tags.c.tag, item_tags.c.item_id),
            "operation": sa.select(operations.c.name, annotation_rows.c.item_id).join(
                operations, operations.c.id == annotation_rows.c.operation_id
            ),
        }
        for key in ("camera", "speed"):
            as_text = sa.cast(item_metadata.c.value, sa.Text).label("value")
            pairs[f"metadata.{key}"] = sa.select(as_text, item_metadata.c.item_id).where(
                item_metadata.c.key == key
            )
        found = {}
        for field, query in pairs.items():
            rows = query.subquery()
            grouped = (
                sa.select(rows.c[0], sa.func.count(sa.distinct(rows.c[1])))
                .where(rows.c[1].in_(chosen))
                .group_by(rows.c[0])
            )
            decode = json.loads if field.startswith("metadata.") else (lambda v: v)
            counted = [(n, decode(value)) for value, n in conn.execute(grouped)]
            counted.sort(key=lambda pair: (-pair[0], json.dumps(pair[1])))
            found[field] = [{"value": v, "file_count": n} for n, v in counted]
        total = records.count(conn, chosen)
    return {"file_count": total, "facets": found}


def test_fast_counts_and_pages_equal_the_plain_query_through_every_write(
    lake_client: Client, tmp_path: Path
):
    client, rng = lake_client, random.Random(3)
    check_random_selections(client, rng, 40)

    upload(client, tmp_path, "street", rng, 200, 6)
    check_random_selections(client, rng, 15)

    changed = [
        {"file": f"street_img_{i:03d}.jpg", "metadata": {"camera": "CAM_2", "Tags": ["night"]}}
        for i in range(0, 8)
    ]
    (tmp_path / "update.json").write_text(json.dumps({"files": changed}))
    client.upload_metadata_by_unique_name(str(tmp_path / "update.json"))
    check_random_selections(client, rng, 15)

    replaced = [
        {"image": f"img_{i:03d}.jpg", "annotations": [{"type": "rectangle", "bbox": [1, 1, 3, 3],
                                                       "label": "dog", "confidence": 0.99}]}
        for i in range(0, 16, 2)
    ]  # fmt: skip
    annotate(client, tmp_path, "street", "model", True, replaced)
    check_random_selections(client, rng, 15)

    street = client.get_collection_id_by_name("street")
    client.trash_objects_from_collection(street, "annotation.label = dog")
    check_random_selections(client, rng, 15)
    client.restore_from_trash(street, "metadata.camera = CAM_2")
    check_random_selections(client, rng, 15)
    client.trash_objects_from_datalake("tags = day")
    client.empty_trash(0)
    check_random_selections(client, rng, 15)

    client.remove_annotations(street, "human")
    check_random_selections(client, rng, 15)

    client.create_or_update_collection("picked", "image", "annotation.label = person")
    client.trash_collection(client.get_collection_id_by_name("park"))
    check_random_selections(client, rng, 15)

    lake = client._lake  # type: ignore[attr-defined]
    with lake.db.write() as conn:  # a write no lake code made: the triggers still log it
        conn.execute(item_tags.delete().where(item_tags.c.tag == "city"))
        conn.execute(items.update().values(width=99).where(items.c.file_name.like("%1%")))
    check_random_selections(client, rng, 20)


def test_counts_follow_writes_made_by_another_connection(lake_client: Client):
    lake = lake_client._lake  # type: ignore[attr-defined]
    selection = ItemSelection.of("image", query="tags = day OR annotation.label = car")
    before = lake.count_items(selection)
    assert before > 0
    with lake.db.write() as conn:  # as the annotation writers do: the items count as changed
        conn.execute(item_tags.delete())
        conn.execute(sa.text("DELETE FROM item_labels"))
        conn.execute(sa.text("DELETE FROM annotations"))
        conn.execute(items.update().values(modified=sa.func.current_timestamp()))
    assert lake.count_items(selection) == 0
    assert (
        lake.count_items(ItemSelection.of("image", query="NOT tags EXISTS"))
        == plain(lake, ItemSelection.of("image", query="NOT tags EXISTS"), SortOrder(), 0, 1)[0]
    )
