"""The metadata database schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Custom metadata lives in a key/value table with typed columns so that equality and range
queries on one key can use an index on both backends; tags get their own table for the same reason.
Annotations are one row per shape, with the shape's bounding box in typed columns and its label
as a reference to the label table, so later label and confidence queries can use indexes.
Alembic migrations in `migrations/versions` create and evolve these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(24)
NAME = sa.String(1024)
TIMESTAMP = sa.DateTime(timezone=True)
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""An auto-incrementing key: BIGSERIAL on PostgreSQL, the rowid on SQLite."""
OPTIONAL_JSON = sa.JSON(none_as_null=True)
"""JSON that is SQL NULL when absent, so empty metadata costs nothing to write or read."""

collections = sa.Table(
    "collections",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("content_type", sa.String(8), nullable=False),
    sa.Column("storage_name", NAME, nullable=False, unique=True),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("modified", TIMESTAMP, nullable=False),
    sa.Column("trashed_at", TIMESTAMP),
    sa.UniqueConstraint("name", "content_type", name="uq_collections_name_type"),
)
"""`trashed_at` is set by `trash_collection` and cleared when the collection is written to or
restored; emptying the trash removes a trashed collection once no file uploaded to it is left."""

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("unique_name", NAME, nullable=False, unique=True),
    sa.Column("file_name", NAME, nullable=False),
    sa.Column("content_type", sa.String(8), nullable=False),
    sa.Column("collection_id", ID, sa.ForeignKey("collections.id"), nullable=False),
    sa.Column("bucket", sa.String(255), nullable=False),
    sa.Column("storage_key", NAME, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("mime", sa.String(255), nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("frame_count", sa.Integer),
    sa.Column("fps", sa.Float),
    sa.Column("duration", sa.Float),
    sa.Column("upload_job_id", ID),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("modified", TIMESTAMP, nullable=False),
    sa.Column("trashed_at", TIMESTAMP),
    sa.Column("seq", sa.BigInteger),
    sa.UniqueConstraint("bucket", "storage_key", name="uq_items_bucket_key"),
)
"""`seq` is a small integer of each item, never reused (store/item_changes.py assigns it), by
which the lake's term bitmaps (lake/query/bitmaps.py) name items."""
sa.Index("ix_items_seq", items.c.seq, unique=True)
# Building a term's bitmap maps each matching item id to its `seq` from this index alone.
sa.Index("ix_items_id_seq", items.c.id, items.c.seq)
sa.Index("ix_items_collection_file", items.c.collection_id, items.c.file_name)
# Listings page through live items newest change first; partial indexes on exactly that order
# let a page at any offset skip index entries instead of rows.
LIVE = items.c.trashed_at.is_(None)
sa.Index(
    "ix_items_live_type_order",
    items.c.content_type,
    items.c.modified,
    items.c.id,
    sqlite_where=LIVE,
    postgresql_where=LIVE,
)
sa.Index(
    "ix_items_live_type_created",
    items.c.content_type,
    items.c.created,
    items.c.id,
    items.c.modified,
    sqlite_where=LIVE,
    postgresql_where=LIVE,
)
sa.Index(
    "ix_items_live_type_name",
    items.c.content_type,
    items.c.file_name,
    items.c.id,
    sqlite_where=LIVE,
    postgresql_where=LIVE,
)
# A matched item id is checked (live, of a type) and ordered from this index alone.
sa.Index(
    "ix_items_live_id",
    items.c.id,
    items.c.content_type,
    items.c.modified,
    sqlite_where=LIVE,
    postgresql_where=LIVE,
)
sa.Index(
    "ix_items_live_collection_order",
    items.c.collection_id,
    items.c.modified,
    items.c.id,
    sqlite_where=LIVE,
    postgresql_where=LIVE,
)
# The trash view lists trashed items, most recently trashed first.
TRASHED = items.c.trashed_at.is_not(None)
sa.Index(
    "ix_items_trashed",
    items.c.trashed_at,
    items.c.id,
    sqlite_where=TRASHED,
    postgresql_where=TRASHED,
)

collection_items = sa.Table(
    "collection_items",
    metadata,
    sa.Column("collection_id", ID, sa.ForeignKey("collections.id"), primary_key=True),
    sa.Column("item_id", ID, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("added", TIMESTAMP, nullable=False),
)
sa.Index("ix_collection_items_item", collection_items.c.item_id)

item_metadata = sa.Table(
    "item_metadata",
    metadata,
    sa.Column("item_id", ID, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("value_text", sa.Text),
    sa.Column("value_num", sa.Float),
)
# Metadata terms read (key, value) -> item id from the index alone.
sa.Index(
    "ix_item_metadata_key_text",
    item_metadata.c.key,
    item_metadata.c.value_text,
    item_metadata.c.item_id,
)
sa.Index(
    "ix_item_metadata_key_num",
    item_metadata.c.key,
    item_metadata.c.value_num,
    item_metadata.c.item_id,
)

item_tags = sa.Table(
    "item_tags",
    metadata,
    sa.Column("item_id", ID, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column("tag", sa.String(255), primary_key=True),
)
sa.Index("ix_item_tags_tag", item_tags.c.tag, item_tags.c.item_id)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("collection_id", ID),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("owner", sa.String(255)),
    sa.Column("heartbeat", TIMESTAMP),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("started", TIMESTAMP),
    sa.Column("finished", TIMESTAMP),
)
sa.Index("ix_jobs_status", jobs.c.status)

job_files = sa.Table(
    "job_files",
    metadata,
    sa.Column("job_id", ID, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("file_name", NAME, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("metadata", sa.JSON),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("item_id", ID),
    sa.Column("sha256", sa.String(64)),
)
sa.Index("ix_job_files_job_state", job_files.c.job_id, job_files.c.state)
sa.Index("ix_job_files_job_name", job_files.c.job_id, job_files.c.file_name)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("revoked_at", TIMESTAMP),
)

upload_sessions = sa.Table(
    "upload_sessions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("owner_key", sa.String(64)),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("part_size", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("job_id", ID),
    sa.Column("created", TIMESTAMP, nullable=False),
)
sa.Index("ix_upload_sessions_fingerprint", upload_sessions.c.fingerprint, upload_sessions.c.status)

upload_files = sa.Table(
    "upload_files",
    metadata,
    sa.Column("session_id", ID, sa.ForeignKey("upload_sessions.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("file_name", NAME, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("metadata", sa.JSON),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("sha256", sa.String(64)),
    sa.Column("multipart_id", sa.String(1024)),
)

sa.Index("ix_upload_files_session_name", upload_files.c.session_id, upload_files.c.file_name)

upload_parts = sa.Table(
    "upload_parts",
    metadata,
    sa.Column("session_id", ID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64)),
)

job_payloads = sa.Table(
    "job_payloads",
    metadata,
    sa.Column("job_id", ID, sa.ForeignKey("jobs.id"), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
"""Input a queued job needs beyond its params (an annotation file), dropped once applied."""

labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("color", sa.String(7), nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
)

operations = sa.Table(
    "operations",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("is_model_run", sa.Boolean, nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("modified", TIMESTAMP, nullable=False),
)
"""Annotation sets, named by the caller's operation id (a model run or a human project)."""

# The Python name is not `annotations`, which would shadow `from __future__ import annotations`
# for type checkers in every module that imports it; the SQL table keeps its name.
annotation_rows = sa.Table(
    "annotations",
    metadata,
    sa.Column("id", SERIAL, primary_key=True, autoincrement=True),
    sa.Column("item_id", ID, sa.ForeignKey("items.id"), nullable=False),
    sa.Column("operation_id", SERIAL, sa.ForeignKey("operations.id"), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("label_id", SERIAL, sa.ForeignKey("labels.id"), nullable=False),
    sa.Column("x", sa.Float, nullable=False),
    sa.Column("y", sa.Float, nullable=False),
    sa.Column("w", sa.Float, nullable=False),
    sa.Column("h", sa.Float, nullable=False),
    sa.Column("points", OPTIONAL_JSON),
    sa.Column("confidence", sa.Float),
    sa.Column("metadata", OPTIONAL_JSON),
    sa.Column("attributes", OPTIONAL_JSON),
)
"""One row per shape, in upload order (by id); `x, y, w, h` is its bounding box in pixels and
`points` the vertices of a polygon, line or point set."""
sa.Index("ix_annotations_item_operation", annotation_rows.c.item_id, annotation_rows.c.operation_id)
# Label terms (with a confidence, and count(...) by label) and operation/source terms read the
# index alone, in item order.
sa.Index(
    "ix_annotations_label_item",
    annotation_rows.c.label_id,
    annotation_rows.c.item_id,
    annotation_rows.c.confidence,
)
sa.Index("ix_annotations_operation_item", annotation_rows.c.operation_id, annotation_rows.c.item_id)

item_labels = sa.Table(
    "item_labels",
    metadata,
    sa.Column("item_id", ID, sa.ForeignKey("items.id"), primary_key=True),
    sa.Column(
        "label_id", SERIAL, sa.ForeignKey("labels.id"), primary_key=True, autoincrement=False
    ),
    sa.Column("count", sa.Integer, nullable=False),
)
"""How many annotations of each label a file has (all operations together), rewritten with its
annotations, so that `count(annotation.label=car) >= 3` reads a few index entries instead of
grouping every car in the lake."""
sa.Index(
    "ix_item_labels_label_count", item_labels.c.label_id, item_labels.c.count, item_labels.c.item_id
)

selections = sa.Table(
    "selections",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("selection", sa.JSON, nullable=False),
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
)
"""Snapshots of what a selection (scope, query, filter) picked when it was made, so that a later
call acting on it (trash) acts on exactly those items."""
sa.Index("ix_selections_created", selections.c.created)

selection_items = sa.Table(
    "selection_items",
    metadata,
    sa.Column("selection_id", ID, sa.ForeignKey("selections.id"), primary_key=True),
    sa.Column("item_id", ID, primary_key=True),
)

item_changes = sa.Table(
    "item_changes",
    metadata,
    sa.Column("seq", SERIAL, primary_key=True, autoincrement=False),
    sa.Column("change", sa.BigInteger, nullable=False),
)
"""The last change of each item's queryable facts (its row, metadata, tags, collections),
written by database triggers on those tables so that no write path can forget it (a write of
an item's annotations sets the item's `modified`, so the items trigger logs it). `change`
grows with each write on SQLite and is the writing transaction's id on PostgreSQL. Caches of
which items match a term patch just the items changed since they were built
(store/item_changes.py)."""
sa.Index("ix_item_changes_change", item_changes.c.change)

request_results = sa.Table(
    "request_results",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("answer", OPTIONAL_JSON),
    sa.Column("created", TIMESTAMP, nullable=False),
)
"""The answer given to each request id of a call that changes something, written in the same
transaction as the change, so that a retry of the call answers it again instead of applying
the call twice; `fingerprint` is the hash of the call's operation and arguments."""
sa.Index("ix_request_results_created", request_results.c.created)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("expires", TIMESTAMP, nullable=False),
)
"""Browser sessions: the hash of the cookie's token, the API key it acts as, its CSRF token."""
sa.Index("ix_web_sessions_expires", web_sessions.c.expires)

login_links = sa.Table(
    "login_links",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("expires", TIMESTAMP, nullable=False),
)
"""One-time login links (`metalake serve` prints one): used once, then deleted."""

lake_info = sa.Table(
    "lake_info",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)
"""Facts about the lake itself: `lake_id`, random, made with the database."""

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False, unique=True),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.Column("modified", TIMESTAMP, nullable=False),
)
"""Named datasets, each a series of frozen versions."""

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("dataset_id", ID, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("selection", sa.JSON, nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("created", TIMESTAMP, nullable=False),
    sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
)
"""One frozen version: the arguments that selected it and its counts per split and label."""

dataset_files = sa.Table(
    "dataset_files",
    metadata,
    sa.Column("version_id", ID, sa.ForeignKey("dataset_versions.id"), primary_key=True),
    sa.Column("item_id", ID, primary_key=True),
    sa.Column("split", sa.String(16), nullable=False),
    sa.Column("file", NAME, nullable=False),
    sa.Column("unique_name", NAME, nullable=False),
    sa.Column("storage_key", NAME, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("mime", sa.String(255), nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
)
"""The files of a version, as they were when it was made: a copy of the facts exports need (not
a reference to `items`, which may change or go), `file` being the name exports give it. The item
id is kept, without a foreign key, to find the same file in the next version."""
sa.Index(
    "ix_dataset_files_split",
    dataset_files.c.version_id,
    dataset_files.c.split,
    dataset_files.c.file,
)
sa.Index("ix_dataset_files_storage_key", dataset_files.c.storage_key)

dataset_annotations = sa.Table(
    "dataset_annotations",
    metadata,
    sa.Column("version_id", ID, sa.ForeignKey("dataset_versions.id"), primary_key=True),
    sa.Column("item_id", ID, primary_key=True),
    sa.Column(
        "operation_id",
        SERIAL,
        sa.ForeignKey("operations.id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("split", sa.String(16), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("label_id", SERIAL, sa.ForeignKey("labels.id"), nullable=False),
    sa.Column("x", sa.Float, nullable=False),
    sa.Column("y", sa.Float, nullable=False),
    sa.Column("w", sa.Float, nullable=False),
    sa.Column("h", sa.Float, nullable=False),
    sa.Column("points", OPTIONAL_JSON),
    sa.Column("confidence", sa.Float),
    sa.Column("metadata", OPTIONAL_JSON),
    sa.Column("attributes", OPTIONAL_JSON),
    sqlite_with_rowid=False,
)
"""A copy of the annotations a version holds, as they were when it was made (`id` is the
annotation's id then, which keeps their order), with its file's split (for counts). Keyed, and
on SQLite stored, in the order exports read them: a file's annotations lie together."""
