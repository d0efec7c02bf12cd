"""Dataset versions: a frozen copy of the files a selection picks and of the chosen annotations
on them, assigned to splits, read back page by page for exports and loaders.

A version copies what exports need of each file (storage key, size, hash, dimensions) and the
annotation rows themselves, so later uploads, replaced annotations, metadata edits and the trash
do not change it; bytes it holds are kept by `holds` when the lake would delete or overwrite them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from metalake.errors import (
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    EmptySelectionError,
    InvalidArgumentError,
)
from metalake.ids import new_id
from metalake.lake import collections, snapshots
from metalake.lake.annotations.exports import check_page_limit
from metalake.lake.annotations.store import ROW_COLUMNS, AnnotationSelection, shape_dicts
from metalake.lake.clock import iso, utcnow
from metalake.lake.datasets.records import SPLITS, ExportImage
from metalake.lake.datasets.splits import assign_splits, check_seed, check_split_info
from metalake.lake.names import check_text
from metalake.lake.selection import ItemSelection
from metalake.store.bulk import insert_rows
from metalake.store.schema import (
    annotation_rows,
    dataset_annotations,
    dataset_files,
    dataset_versions,
    datasets,
    items,
    labels,
    operations,
)

DATASET_CONTENT_TYPE = "image"
MAX_LABELS = 1000
FILE_COLUMNS = (
    "version_id",
    "item_id",
    "split",
    "file",
    "unique_name",
    "storage_key",
    "size",
    "sha256",
    "mime",
    "width",
    "height",
)
COPIED_COLUMNS = ("id", *ROW_COLUMNS)
"""What a version copies of each annotation row: its id (which keeps the order) and the rest."""


REQUEST_KEYS = (
    "content_type",
    "collection_id",
    "query",
    "filter",
    "annotation_type",
    "operation_id_list",
    "labels",
    "split_info",
    "seed",
    "with_annotations",
    "snapshot_id",
)


@dataclass(frozen=True)
class VersionRequest:
    """What a new version holds: the files `selection` picks, the annotations `annotations`
    picks on them (only `labels` when given), split by `split_info` from `seed`."""

    selection: ItemSelection
    annotations: AnnotationSelection
    labels: tuple[str, ...]
    split_info: dict[str, int | float]
    seed: int
    with_annotations: bool = True
    """False freezes the files without any annotation (LayerNext's `operations: []`)."""
    snapshot_id: str | None = None
    """The files are then exactly the live ones of this snapshot of `selection`
    (`snapshots.take`, LayerNext's `getSelectionId`), not `selection` evaluated again."""

    @classmethod
    def of(
        cls,
        selection: ItemSelection,
        annotations: AnnotationSelection,
        labels: Any,
        split_info: Any,
        seed: Any,
        with_annotations: bool = True,
        snapshot_id: str | None = None,
    ) -> VersionRequest:
        """A request from the SDK's arguments, checked."""
        if labels is None:
            labels = []
        if not isinstance(labels, list | tuple) or not all(
            isinstance(label, str) and label for label in labels
        ):
            raise InvalidArgumentError(f"labels must be a list of label names, not {labels!r}")
        if len(labels) > MAX_LABELS:
            raise InvalidArgumentError(f"labels names {len(labels)} labels; at most {MAX_LABELS}")
        if type(with_annotations) is not bool:
            raise InvalidArgumentError(
                f"with_annotations must be true or false, not {with_annotations!r}"
            )
        if snapshot_id is not None:
            check_text(snapshot_id, "snapshot_id")
        return cls(
            selection,
            annotations,
            tuple(dict.fromkeys(labels)),
            check_split_info(split_info),
            check_seed(seed),
            with_annotations,
            snapshot_id,
        )

    @classmethod
    def from_json(cls, data: Any) -> VersionRequest:
        """A request as `to_json` writes it (the REST API's body), checked."""
        if not isinstance(data, dict):
            raise InvalidArgumentError("a dataset version request must be an object")
        unknown = sorted(set(data) - set(REQUEST_KEYS))
        if unknown:
            raise InvalidArgumentError(
                f"a dataset version request has unknown keys {unknown}; it takes "
                f"{', '.join(REQUEST_KEYS)}"
            )
        operations = data.get("operation_id_list") or []
        if not isinstance(operations, list):
            raise InvalidArgumentError(
                f"operation_id_list must be a list of operation ids, not {operations!r}"
            )
        return cls.of(
            ItemSelection.of(
                data.get("content_type"),
                data.get("collection_id"),
                data.get("query", ""),
                data.get("filter"),
            ),
            AnnotationSelection(data.get("annotation_type", "all"), tuple(operations)),
            data.get("labels"),
            data.get("split_info"),
            data.get("seed", 0),
            data.get("with_annotations", True),
            data.get("snapshot_id"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **self.selection.to_json(),
            "annotation_type": self.annotations.annotation_type,
            "operation_id_list": list(self.annotations.operation_ids),
            "labels": list(self.labels),
            "split_info": self.split_info,
            "seed": self.seed,
            "with_annotations": self.with_annotations,
            "snapshot_id": self.snapshot_id,
        }


def create_version(
    conn: Connection, dataset_name: str, request: VersionRequest, new_dataset: bool
) -> dict[str, Any]:
    """Freeze a new version of `dataset_name` (a new dataset when `new_dataset`, else the next
    version of an existing one) and return its `version_dict`."""
    dataset = _dataset_for(conn, dataset_name, new_dataset)
    _check_scope(conn, request.selection)
    request.annotations.check_operations_exist(conn)
    label_ids = _label_ids(conn, request.labels)
    picked = (
        conn.execute(
            sa.select(
                items.c.id,
                items.c.unique_name,
                items.c.storage_key,
                items.c.size,
                items.c.sha256,
                items.c.mime,
                items.c.width,
                items.c.height,
            )
            .where(*_picked(conn, request))
            .order_by(items.c.unique_name)
            # PostgreSQL: a replacing upload locks its item before it checks for versions that
            # hold its bytes, so it waits for this version or this version for it
            .with_for_update(read=True, of=items)
        )
        .mappings()
        .all()
    )
    if not picked:
        raise EmptySelectionError(
            f"the selection holds no {DATASET_CONTENT_TYPE} file: a version needs at least one"
        )
    latest = _latest_version(conn, dataset["id"])
    previous = _previous_splits(conn, latest, request.seed)
    names = [row["unique_name"] for row in picked]
    splits = assign_splits(names, request.split_info, request.seed, previous)
    version_id = new_id()
    number = 1 if latest is None else latest["version"] + 1
    now = utcnow()
    conn.execute(
        dataset_versions.insert().values(
            id=version_id,
            dataset_id=dataset["id"],
            version=number,
            selection=request.to_json(),
            counts={},
            created=now,
        )
    )
    files = export_names(names)
    rows = [
        (
            version_id,
            row["id"],
            split,
            file,
            row["unique_name"],
            row["storage_key"],
            row["size"],
            row["sha256"],
            row["mime"],
            row["width"],
            row["height"],
        )
        for row, split, file in zip(picked, splits, files, strict=True)
    ]
    insert_rows(conn, dataset_files, FILE_COLUMNS, rows)
    if request.with_annotations:
        _copy_annotations(conn, version_id, request.annotations, label_ids)
    counts = _counts(conn, version_id)
    missing = [label for label in request.labels if label not in counts["labels"]]
    if missing:
        raise EmptySelectionError(
            f"no annotation of the selection has the labels {missing}: check their spelling, "
            "the operations and the query"
        )
    conn.execute(
        dataset_versions.update().where(dataset_versions.c.id == version_id).values(counts=counts)
    )
    conn.execute(datasets.update().where(datasets.c.id == dataset["id"]).values(modified=now))
    return version_dict(conn, version_id)


def _picked(conn: Connection, request: VersionRequest) -> list[sa.ColumnElement[bool]]:
    """Conditions on `items` for the files of the request: its selection now, or the live
    files of its snapshot."""
    if request.snapshot_id is None:
        return request.selection.where(conn)
    _taken_of, ids = snapshots.load(conn, request.snapshot_id)
    return [items.c.id.in_(ids), items.c.trashed_at.is_(None)]


def _dataset_for(conn: Connection, name: str, new: bool) -> RowMapping:
    check_text(name, "dataset_name")
    found = conn.execute(sa.select(datasets).where(datasets.c.name == name)).mappings().first()
    if new and found is not None:
        raise InvalidArgumentError(
            f"a dataset named {name!r} exists: update_dataset makes its next version"
        )
    if not new and found is None:
        raise DatasetNotFoundError(f"no dataset named {name!r}: create_dataset makes it")
    if found is not None:
        return found
    now = utcnow()
    dataset_id = new_id()
    conn.execute(datasets.insert().values(id=dataset_id, name=name, created=now, modified=now))
    return conn.execute(sa.select(datasets).where(datasets.c.id == dataset_id)).mappings().one()


def _check_scope(conn: Connection, selection: ItemSelection) -> None:
    """Versions hold images: training formats have no place for videos or other files."""
    if selection.collection_id is not None:
        kind = collections.get_by_id(conn, selection.collection_id)["content_type"]
    else:
        kind = selection.content_type or ""
    if kind != DATASET_CONTENT_TYPE:
        raise InvalidArgumentError(
            f"dataset versions hold images, not {kind or 'other'} files: choose an image "
            "collection or content_type='image'"
        )


def _label_ids(conn: Connection, names: Sequence[str]) -> list[int]:
    if not names:
        return []
    known = dict(
        conn.execute(sa.select(labels.c.name, labels.c.id).where(labels.c.name.in_(names))).all()
    )
    unknown = [name for name in names if name not in known]
    if unknown:
        raise EmptySelectionError(f"no annotation in the lake has the labels {unknown}")
    return [known[name] for name in names]


def _latest_version(conn: Connection, dataset_id: str) -> RowMapping | None:
    query = (
        sa.select(dataset_versions)
        .where(dataset_versions.c.dataset_id == dataset_id)
        .order_by(dataset_versions.c.version.desc())
        .limit(1)
    )
    return conn.execute(query).mappings().first()


def _previous_splits(conn: Connection, latest: RowMapping | None, seed: int) -> dict[str, str]:
    """The splits of the previous version's files, when it was split with the same seed."""
    if latest is None or latest["selection"].get("seed") != seed:
        return {}
    query = sa.select(dataset_files.c.unique_name, dataset_files.c.split).where(
        dataset_files.c.version_id == latest["id"]
    )
    return dict(conn.execute(query).all())


def _stem_and_suffix(name: str) -> tuple[str, str]:
    """`a.b.jpg` -> (`a.b`, `.jpg`), as `PurePosixPath` splits a name, without its cost."""
    stem, dot, ending = name.rpartition(".")
    if not dot or not stem or not ending:
        return name, ""
    return stem, f".{ending}"


def export_names(unique_names: Sequence[str]) -> list[str]:
    """The name each file has in exports: its unique name, unless another file has the same stem
    (`x_a.jpg`, `x_a.png`), which YOLO and VOC label files are named by; then `x_a_png.png`."""
    parts = [_stem_and_suffix(name) for name in unique_names]
    stems = Counter(stem for stem, _ in parts)
    taken = set(unique_names)
    names: list[str] = []
    for name, (stem, suffix) in zip(unique_names, parts, strict=True):
        if stems[stem] == 1 or not suffix:
            names.append(name)
            continue
        candidate = f"{stem}_{suffix[1:]}{suffix}"
        number = 1
        while candidate in taken or _stem_and_suffix(candidate)[0] in stems:
            candidate = f"{stem}_{suffix[1:]}_{number}{suffix}"
            number += 1
        taken.add(candidate)
        stems[_stem_and_suffix(candidate)[0]] = 1
        names.append(candidate)
    return names


def _copy_annotations(
    conn: Connection, version_id: str, selection: AnnotationSelection, label_ids: list[int]
) -> None:
    source = annotation_rows
    held = dataset_files
    query = (
        sa.select(
            sa.literal(version_id, sa.String).label("version_id"),
            held.c.split,
            *(source.c[name] for name in COPIED_COLUMNS),
        )
        .select_from(
            source.join(
                held, sa.and_(held.c.item_id == source.c.item_id, held.c.version_id == version_id)
            ).join(operations, operations.c.id == source.c.operation_id)
        )
        .where(*selection.where())
    )
    if label_ids:
        query = query.where(source.c.label_id.in_(label_ids))
    columns = ["version_id", "split", *COPIED_COLUMNS]
    conn.execute(dataset_annotations.insert().from_select(columns, query))


def _counts(conn: Connection, version_id: str) -> dict[str, Any]:
    """Files and annotations per split and label, and the categories (label id, name)."""
    files = (
        sa.select(dataset_files.c.split, sa.func.count())
        .where(dataset_files.c.version_id == version_id)
        .group_by(dataset_files.c.split)
    )
    splits: dict[str, dict[str, Any]] = {
        split: {"file_count": count, "annotation_count": 0, "labels": {}}
        for split, count in conn.execute(files).all()
    }
    counted = (
        sa.select(
            dataset_annotations.c.split,
            dataset_annotations.c.label_id,
            sa.func.count().label("count"),
        )
        .where(dataset_annotations.c.version_id == version_id)
        .group_by(dataset_annotations.c.split, dataset_annotations.c.label_id)
        .subquery()
    )
    shapes = sa.select(counted.c.split, labels.c.id, labels.c.name, counted.c.count).join(
        labels, labels.c.id == counted.c.label_id
    )
    totals: Counter[str] = Counter()
    categories: dict[int, str] = {}
    for split, label_id, name, count in conn.execute(shapes).all():
        splits[split]["labels"][name] = count
        splits[split]["annotation_count"] += count
        totals[name] += count
        categories[label_id] = name
    ordered = {split: splits[split] for split in SPLITS if split in splits}
    return {
        "file_count": sum(s["file_count"] for s in ordered.values()),
        "annotation_count": sum(totals.values()),
        "splits": ordered,
        "labels": dict(sorted(totals.items())),
        "categories": sorted([label_id, name] for label_id, name in categories.items()),
    }


def _version_row(conn: Connection, version_id: str) -> RowMapping:
    check_text(version_id, "version_id")
    row = (
        conn.execute(
            sa.select(dataset_versions, datasets.c.name.label("dataset_name"))
            .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
            .where(dataset_versions.c.id == version_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise DatasetVersionNotFoundError(f"no dataset version with id {version_id!r}")
    return row


def _as_dict(row: RowMapping) -> dict[str, Any]:
    counts = row["counts"]
    return {
        "version_id": row["id"],
        "dataset_name": row["dataset_name"],
        "version": row["version"],
        "created": iso(row["created"]),
        "file_count": counts["file_count"],
        "annotation_count": counts["annotation_count"],
        "splits": counts["splits"],
        "labels": counts["labels"],
        "categories": [{"id": label_id, "name": name} for label_id, name in counts["categories"]],
        "selection": row["selection"],
    }


def version_dict(conn: Connection, version_id: str) -> dict[str, Any]:
    """A version's id, dataset, number, counts per split and label, and what selected it."""
    return _as_dict(_version_row(conn, version_id))


def dataset_dict(conn: Connection, dataset_name: str) -> dict[str, Any]:
    """A dataset and its versions, oldest first."""
    check_text(dataset_name, "dataset_name")
    found = conn.execute(sa.select(datasets).where(datasets.c.name == dataset_name)).mappings()
    dataset = found.first()
    if dataset is None:
        raise DatasetNotFoundError(f"no dataset named {dataset_name!r}")
    rows = (
        conn.execute(
            sa.select(dataset_versions, datasets.c.name.label("dataset_name"))
            .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
            .where(dataset_versions.c.dataset_id == dataset["id"])
            .order_by(dataset_versions.c.version)
        )
        .mappings()
        .all()
    )
    return {
        "dataset_name": dataset["name"],
        "created": iso(dataset["created"]),
        "modified": iso(dataset["modified"]),
        "versions": [_as_dict(row) for row in rows],
    }


def list_datasets(conn: Connection) -> list[dict[str, Any]]:
    """Every dataset by name, with its number of versions and its latest version."""
    latest = (
        sa.select(
            dataset_versions.c.dataset_id,
            sa.func.max(dataset_versions.c.version).label("version"),
            sa.func.count().label("version_count"),
        )
        .group_by(dataset_versions.c.dataset_id)
        .subquery()
    )
    query = (
        sa.select(
            datasets.c.name,
            datasets.c.modified,
            latest.c.version_count,
            dataset_versions.c.id,
            dataset_versions.c.version,
            dataset_versions.c.counts,
        )
        .join(latest, latest.c.dataset_id == datasets.c.id)
        .join(
            dataset_versions,
            sa.and_(
                dataset_versions.c.dataset_id == datasets.c.id,
                dataset_versions.c.version == latest.c.version,
            ),
        )
        .order_by(datasets.c.name)
    )
    return [
        {
            "dataset_name": row.name,
            "modified": iso(row.modified),
            "version_count": row.version_count,
            "latest_version_id": row.id,
            "latest_version": row.version,
            "file_count": row.counts["file_count"],
            "annotation_count": row.counts["annotation_count"],
        }
        for row in conn.execute(query).all()
    ]


def delete_version(conn: Connection, version_id: str) -> tuple[dict[str, Any], list[str]]:
    """Delete a version (and its dataset with its last version); return what it was and the
    storage keys of bytes it held that no version holds any more."""
    row = _version_row(conn, version_id)
    gone = _as_dict(row)
    held = list(
        conn.execute(
            sa.select(dataset_files.c.storage_key)
            .where(dataset_files.c.version_id == version_id)
            .distinct()
        )
        .scalars()
        .all()
    )
    for table in (dataset_annotations, dataset_files):
        conn.execute(table.delete().where(table.c.version_id == version_id))
    conn.execute(dataset_versions.delete().where(dataset_versions.c.id == version_id))
    left = conn.execute(
        sa.select(sa.func.count()).where(dataset_versions.c.dataset_id == row["dataset_id"])
    ).scalar_one()
    if left == 0:
        conn.execute(datasets.delete().where(datasets.c.id == row["dataset_id"]))
    return gone, held


def check_split(split: Any) -> str:
    if split not in SPLITS:
        raise InvalidArgumentError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    return str(split)


def version_files(
    conn: Connection, version_id: str, skip: int, limit: int
) -> tuple[list[RowMapping], bool]:
    """Up to `limit` files of a version after the first `skip`, in export order (SPLITS order,
    then export name), and whether more follow: the pages of a download by number."""
    counts = _version_row(conn, version_id)["counts"]["splits"]
    check_page_limit(limit)
    if type(skip) is not int or skip < 0:
        raise InvalidArgumentError(f"skip must be an integer from 0, not {skip!r}")
    found: list[RowMapping] = []
    for split in SPLITS:
        in_split = counts.get(split, {}).get("file_count", 0)
        if skip >= in_split:
            skip -= in_split
            continue
        query = (
            sa.select(dataset_files)
            .where(dataset_files.c.version_id == version_id, dataset_files.c.split == split)
            .order_by(dataset_files.c.file)
            .offset(skip)
            .limit(limit + 1 - len(found))
        )
        found.extend(conn.execute(query).mappings().all())
        skip = 0
        if len(found) > limit:
            break
    return found[:limit], len(found) > limit


def version_page(
    conn: Connection,
    version_id: str,
    split: str,
    after: str | None,
    limit: int,
    with_annotations: bool = True,
) -> tuple[list[tuple[ExportImage, RowMapping]], str | None]:
    """Up to `limit` files of one split after export name `after`, each with its annotations
    (none unless `with_annotations`), and the `after` of the next page (None after the last)."""
    check_split(split)
    check_page_limit(limit)
    _version_row(conn, version_id)
    query = (
        sa.select(dataset_files)
        .where(dataset_files.c.version_id == version_id, dataset_files.c.split == split)
        .order_by(dataset_files.c.file)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(dataset_files.c.file > after)
    rows = conn.execute(query).mappings().all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row["item_id"] for row in rows] if with_annotations else []
    shapes = shape_dicts(
        conn, dataset_annotations, ids, [dataset_annotations.c.version_id == version_id]
    )
    page = [
        (
            ExportImage(
                unique_name=row["unique_name"],
                file=row["file"],
                split=row["split"],
                width=row["width"],
                height=row["height"],
                annotations=shapes.get(row["item_id"], []),
            ),
            row,
        )
        for row in rows
    ]
    return page, rows[-1]["file"] if more else None
