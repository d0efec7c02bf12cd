"""`metalake`: the command line of the lake (`serve`, `keys`, `upload`, `annotate`, `download`,
`query`, `trash`, `restore`, `empty-trash`, `job`, `info`, `doctor`).

The lake, the SDK and the server are imported inside the commands that use them, so `--help`,
`--version` and a remote command start without the database layer, uvicorn or FastAPI.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from metalake import __version__
from metalake.errors import MetaLakeError
from metalake.lake import answers
from metalake.lake.content_types import describe_skipped
from metalake.lake.limits import DEFAULT_FACET_TOP, MAX_CATALOG_PAGE
from metalake.settings import DEFAULT_PORT, lake_home

if TYPE_CHECKING:
    from metalake.client.client import Client
    from metalake.store.database import Database

log = logging.getLogger("metalake")

QUIET_LOGGERS = ("sqlalchemy",)
"""Loggers kept at WARNING under `-v`: SQLAlchemy logs every statement, with its values, at INFO."""


def _value(text: str) -> Any:
    """A `--meta` value: an integer or decimal number if it reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _meta(pairs: tuple[str, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not FIELD=VALUE", param_hint="--meta")
        result[key.strip()] = _value(value)
    return result


@click.group()
@click.version_option(__version__, "--version", prog_name="metalake")
@click.option(
    "--home",
    envvar="METALAKE_HOME",
    type=click.Path(file_okay=False, path_type=Path),
    help="Lake folder (default $METALAKE_HOME or ./metalake-data).",
)
@click.option("--database-url", envvar="METALAKE_DATABASE_URL", help="Metadata database URL.")
@click.option(
    "--storage",
    envvar="METALAKE_STORAGE",
    help="Object store: s3://bucket/prefix (default: the lake folder's blobs/).",
)
@click.option(
    "--url", envvar="METALAKE_URL", help="Work on this server instead of the lake folder."
)
@click.option("--api-key", envvar="METALAKE_API_KEY", help="API key for --url.")
@click.option("--secret", envvar="METALAKE_SECRET", help="The API key's secret.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the lake does.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def main(
    ctx: click.Context,
    home: Path | None,
    database_url: str | None,
    storage: str | None,
    url: str | None,
    api_key: str | None,
    secret: str | None,
    verbose: bool,
    quiet: bool,
) -> None:
    """MetaLake: a self-hosted data lake for computer-vision data.

    Commands work on the lake folder directly, or on a server with --url (or METALAKE_URL),
    --api-key and --secret (or METALAKE_API_KEY and METALAKE_SECRET): upload, annotate,
    download, query, trash, restore, empty-trash, job and info. `keys` and `serve` always work
    on the lake itself. Progress bars are shown only when stderr is a terminal.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    ctx.obj = {
        "home": lake_home(home),
        "database_url": database_url,
        "storage": storage,
        "url": url,
        "api_key": api_key,
        "secret": secret,
        "quiet": quiet,
    }


CONTENT_TYPE = click.option(
    "--type", "content_type", type=click.Choice(["image", "video", "other"]), default="image"
)
NO_WAIT = click.option("--no-wait", is_flag=True, help="Return once the job is queued.")


def _client(ctx: click.Context) -> Client:
    """The SDK on the server (--url) or the lake folder; progress bars only on a terminal."""
    from metalake.client.client import Client

    return Client(
        ctx.obj["url"],
        ctx.obj["api_key"],
        ctx.obj["secret"],
        home=ctx.obj["home"],
        database_url=ctx.obj["database_url"],
        storage=ctx.obj["storage"],
        show_progress=False if ctx.obj["quiet"] else None,
    )


def _database(ctx: click.Context) -> Database:
    from metalake.lake.lake import lake_database

    return lake_database(ctx.obj["home"], ctx.obj["database_url"])


def _confirm(command: str, question: str, yes: bool) -> None:
    """Go on if `yes` or the user says so at the terminal; without a terminal, refuse (exit 2)."""
    if yes:
        return
    if not sys.stdin.isatty():
        click.echo(
            f"error: {command} asks first ({question}) and stdin is not a terminal: pass --yes",
            err=True,
        )
        sys.exit(2)
    click.confirm(question, abort=True, err=True)


@main.command()
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Lake folder (as `metalake --home`).",
)
@click.option("--database-url", help="Metadata database URL (as `metalake --database-url`).")
@click.option("--storage", help="Object store, s3://bucket/prefix (as `metalake --storage`).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
def serve(
    ctx: click.Context,
    home: Path | None,
    database_url: str | None,
    storage: str | None,
    host: str,
    port: int,
    workers: int,
) -> None:
    """Serve the lake over HTTP: the web app at /, the REST API, signed URLs, /docs and
    /healthz; prints a one-time login link for the web app."""
    import uvicorn

    from metalake.lake.keys import keys_command, list_keys
    from metalake.lake.web_sessions import LINK_KEY_NAME, create_login_link

    for name, value in (("home", home), ("database_url", database_url), ("storage", storage)):
        if value:
            ctx.obj[name] = value
    home = ctx.obj["home"].resolve()
    with _database(ctx) as db:
        keys = [k for k in list_keys(db) if not k["revoked"] and k["name"] != LINK_KEY_NAME]
        token = create_login_link(db)
    os.environ["METALAKE_HOME"] = str(home)
    for name, value in (
        ("METALAKE_DATABASE_URL", ctx.obj["database_url"]),
        ("METALAKE_STORAGE", ctx.obj["storage"]),
    ):
        if value:
            os.environ[name] = value
    where = ctx.obj["storage"] or str(home / "blobs")
    click.echo(f"MetaLake serves {home} (bytes in {where}) on http://{host}:{port}")
    click.echo(f"API docs: http://{host}:{port}/docs")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    click.echo(f"Open http://{shown}:{port}/?token={token} (a one-time login link)")
    if not keys:
        command = keys_command(home, ctx.obj["database_url"], "create --name NAME")
        click.echo(f"No API keys yet: create one with `{command}`.")
    log.setLevel(logging.INFO)
    uvicorn.run(
        "metalake.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
    )


@main.group()
def keys() -> None:
    """Create, list and revoke API keys of the lake."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.pass_context
def keys_create(ctx: click.Context, name: str) -> None:
    """Create a key; its secret is printed once and never stored."""
    from metalake.lake.keys import create_key

    with _database(ctx) as db:
        key = create_key(db, name)
    click.echo(f"key:    {key.key}")
    click.echo(f"secret: {key.secret}")
    click.echo("Keep the secret now: only its salted hash is stored.", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as JSON.")
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """List keys with their names and dates (never secrets)."""
    from metalake.lake.keys import list_keys

    with _database(ctx) as db:
        found = list_keys(db)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for k in found:
        state = f"revoked {k['revoked']}" if k["revoked"] else "active"
        click.echo(f"{k['key']}  {k['name']}  created {k['created']}  {state}")


@keys.command("revoke")
@click.argument("key")
@click.pass_context
def keys_revoke(ctx: click.Context, key: str) -> None:
    """Revoke a key: requests with it fail at once."""
    from metalake.lake.keys import revoke_key

    with _database(ctx) as db:
        revoke_key(db, key)
    click.echo(f"revoked {key}")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@CONTENT_TYPE
@click.option("--collection", required=True, help="Collection to upload to (created if new).")
@click.option("--meta", multiple=True, metavar="FIELD=VALUE", help="Metadata for every file.")
@click.option("--tag", multiple=True, help="Tag for every file (repeatable).")
@click.option("--metadata-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--override", is_flag=True, help="Set the metadata on files already there too.")
@click.option("--prefix", help="Storage folder to put the collection under.")
@NO_WAIT
@click.pass_context
def upload(
    ctx: click.Context,
    path: Path,
    content_type: str,
    collection: str,
    meta: tuple[str, ...],
    tag: tuple[str, ...],
    metadata_file: Path | None,
    override: bool,
    prefix: str | None,
    no_wait: bool,
) -> None:
    """Upload a file or a folder's files to a collection, with a progress bar."""
    metadata: dict[str, Any] = _meta(meta)
    if tag:
        metadata["Tags"] = list(tag)
    with _client(ctx) as client:
        result = client.upload_files_to_collection(
            str(path.resolve()),
            content_type,
            collection,
            metadata,
            override,
            str(metadata_file.resolve()) if metadata_file else None,
            prefix,
        )
        click.echo(f"collection {result['collection_id']}, job {result['job_id']}")
        if skipped := result.get("skipped_by_extension"):
            click.echo(describe_skipped(content_type, skipped), err=True)
        _follow(client, result["job_id"], no_wait)


@main.command()
@click.argument("json_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--collection", required=True, help="Image collection whose files it names.")
@click.option("--operation", required=True, help="Operation id: a model run or a project.")
@click.option("--machine", is_flag=True, help="Machine annotations (is_model_run=True).")
@click.option("--normalized", is_flag=True, help="Coordinates are fractions of the image size.")
@NO_WAIT
@click.pass_context
def annotate(
    ctx: click.Context,
    json_file: Path,
    collection: str,
    operation: str,
    machine: bool,
    normalized: bool,
    no_wait: bool,
) -> None:
    """Upload an annotation file for the images of a collection (by file name)."""
    with _client(ctx) as client:
        result = client.upload_annotations_for_collection(
            collection, operation, str(json_file.resolve()), normalized, machine
        )
        click.echo(f"job {result['job_id']}: {result['message']}")
        _follow(client, result["job_id"], no_wait)


@main.command()
@click.argument("collection")
@CONTENT_TYPE
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    help="Folder to write <collection>/ into (default: the current folder).",
)
@click.option(
    "--annotations",
    type=click.Choice(["all", "human", "machine"]),
    default="all",
    show_default=True,
)
@click.option("--operation", multiple=True, help="Only these operations (repeatable).")
@click.option("--no-media", is_flag=True, help="Write the annotation JSON only.")
@click.pass_context
def download(
    ctx: click.Context,
    collection: str,
    content_type: str,
    out: Path,
    annotations: str,
    operation: tuple[str, ...],
    no_media: bool,
) -> None:
    """Download a collection: its annotations as JSON and its files under data/."""
    with _client(ctx) as client:
        collection_id = client.get_collection_id_by_name(collection, content_type)
        result = client.download_collection(
            collection_id, annotations, list(operation), str(out.resolve()), not no_media
        )
    click.echo(result["message"])
    if not answers.DOWNLOADS.succeeded(result):
        sys.exit(1)


SCOPE_OPTIONS = [
    click.option("--type", "content_type", default="image", show_default=True,
                 type=click.Choice(["image", "video", "other"])),
    click.option("--collection", help="Only files of this collection (uploaded or added)."),
    click.option("--annotation-type", "annotation_types", multiple=True,
                 type=click.Choice(["raw", "human", "machine"]),
                 help="Filter: files with annotations of this kind (raw: none); repeatable."),
    click.option("--from-date", help="Filter: uploaded on or after this ISO date."),
    click.option("--to-date", help="Filter: uploaded on or before this ISO date."),
]  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """Which files a query command works on: a content type or a collection, and a filter."""

    content_type: str
    collection: str | None
    filter: dict[str, Any]

    def collection_id(self, client: Client) -> str:
        """The collection's id, or "" for the whole lake."""
        if self.collection is None:
            return ""
        return client.get_collection_id_by_name(self.collection, self.content_type)


def _scope(command: Callable[..., None]) -> Callable[..., None]:
    """Add the scope options to a command, which receives them as one `scope` argument."""

    @functools.wraps(command)
    def with_scope(
        *args: Any,
        content_type: str,
        collection: str | None,
        annotation_types: tuple[str, ...],
        from_date: str | None,
        to_date: str | None,
        **kwargs: Any,
    ) -> None:
        filter_: dict[str, Any] = {}
        if annotation_types:
            filter_["annotation_types"] = list(annotation_types)
        if from_date:
            filter_["from_date"] = from_date
        if to_date:
            filter_["to_date"] = to_date
        command(*args, scope=Scope(content_type, collection, filter_), **kwargs)

    for option in reversed(SCOPE_OPTIONS):
        with_scope = option(with_scope)
    return with_scope


@main.command()
@click.argument("query", default="")
@_scope
@click.option("--count", "count_only", is_flag=True, help="Print how many files match.")
@click.option("--page", default=0, show_default=True, type=int, help="Page index, from 0.")
@click.option("--page-size", default=20, show_default=True, type=int, help="1 to 1000.")
@click.option(
    "--sort",
    default="date_modified:DESC",
    show_default=True,
    help="FIELD:ORDER, FIELD one of date_modified, date_created, name, size, video_index.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the files' details as JSON.")
@click.pass_context
def query(
    ctx: click.Context,
    query: str,
    scope: Scope,
    count_only: bool,
    page: int,
    page_size: int,
    sort: str,
    as_json: bool,
) -> None:
    """Find files with the query language (README "Queries"): unique names, one a line."""
    field, _, order = sort.partition(":")
    sort_order = {"sort_by_field": field, "sort_order": order or "DESC"}
    with _client(ctx) as client:
        collection_id = scope.collection_id(client)
        if count_only:
            count = (
                client.get_item_count_from_collection(collection_id, query, scope.filter)
                if collection_id
                else client.get_item_count_from_metalake(scope.content_type, query, scope.filter)
            )
            click.echo(count)
            return
        found = (
            client.get_item_list_from_collection(
                collection_id, query, scope.filter, page, page_size, sort_order
            )
            if collection_id
            else client.get_item_list_from_datalake(
                scope.content_type, query, scope.filter, page, page_size, sort_order
            )
        )
    if as_json:
        click.echo(json.dumps(found, indent=2))
    else:
        for item in found:
            click.echo(item["unique_name"])


@main.command()
@click.argument("query", default="")
@_scope
@click.option(
    "--field",
    "fields",
    multiple=True,
    help="label, tag, operation or metadata.<key>; repeat it for several "
    "(default: label, tag and operation).",
)
@click.option("--top", default=DEFAULT_FACET_TOP, show_default=True, type=int, help="Per field.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_context
def facets(
    ctx: click.Context,
    query: str,
    scope: Scope,
    fields: tuple[str, ...],
    top: int,
    as_json: bool,
) -> None:
    """Count the matching files by value of each field: labels, tags, operations, metadata."""
    with _client(ctx) as client:
        collection_id = scope.collection_id(client)
        found = client.get_facets(
            collection_id or None,
            scope.content_type,
            query,
            scope.filter,
            list(fields) or None,
            top,
        )
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(f"{found['file_count']:,} files")
    for field, values in found["facets"].items():
        click.echo(f"{field}:")
        for value in values:
            click.echo(f"  {value['file_count']:>10,}  {value['value']}")


YES = click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")


@main.command()
@click.argument("query", default="")
@_scope
@YES
@click.pass_context
def trash(ctx: click.Context, query: str, scope: Scope, yes: bool) -> None:
    """Move matching files to the trash (bytes are kept until `empty-trash`)."""
    what = f"files matching {query!r}" if query else "all files"
    where = (
        f"in collection {scope.collection!r}"
        if scope.collection
        else f"of type {scope.content_type}"
    )
    _confirm("trash", f"Move {what} {where} to the trash?", yes)
    with _client(ctx) as client:
        collection_id = scope.collection_id(client)
        result = (
            client.trash_objects_from_collection(collection_id, query, scope.filter)
            if collection_id
            else client.trash_objects_from_datalake(query, scope.filter, scope.content_type)
        )
    click.echo(result["message"])


@main.command()
@click.argument("query", default="")
@_scope
@click.pass_context
def restore(ctx: click.Context, query: str, scope: Scope) -> None:
    """Bring matching files back from the trash (all of them with no query)."""
    with _client(ctx) as client:
        collection_id = scope.collection_id(client)
        result = client.restore_from_trash(collection_id, query, scope.filter, scope.content_type)
    click.echo(result["message"])


@main.command("empty-trash")
@click.option("--older-than-days", default=30.0, show_default=True, type=float)
@YES
@click.pass_context
def empty_trash(ctx: click.Context, older_than_days: float, yes: bool) -> None:
    """Delete for good, with their bytes, files trashed at least this many days ago."""
    _confirm(
        "empty-trash",
        f"Delete for good, with their bytes, the files trashed {older_than_days:g} or more "
        "days ago?",
        yes,
    )
    with _client(ctx) as client:
        result = client.empty_trash(older_than_days)
    click.echo(result["message"])
    if not answers.TRASH.succeeded(result):
        sys.exit(1)


@main.command()
@click.option("--orphans", is_flag=True, help="Find bytes that nothing in the lake refers to.")
@click.option("--fix", is_flag=True, help="Delete the orphans found.")
@click.option(
    "--older-than",
    "older_than_s",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Judge only objects last written at least this many seconds ago.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@YES
@click.pass_context
def doctor(
    ctx: click.Context, orphans: bool, fix: bool, older_than_s: float, as_json: bool, yes: bool
) -> None:
    """Check the lake itself (--home, --database-url, --storage; never through a server).

    --orphans lists blobs that no item names (thumbnails aside) and staged upload files that no
    live upload session will read, with counts and bytes; it exits 1 if it found any and --fix
    did not remove them. Objects written in the last --older-than seconds are not judged: an
    upload in flight writes its bytes before it registers them.
    """
    from datetime import timedelta

    from metalake.blobs.store import open_blob_store
    from metalake.lake.doctor import find_orphans, remove_orphans

    if not orphans:
        raise click.UsageError("say what to check: metalake doctor --orphans [--fix]")
    with _database(ctx) as db:
        blobs = open_blob_store(ctx.obj["storage"], ctx.obj["home"])
        report = find_orphans(db, blobs, timedelta(seconds=older_than_s))
    found = report.objects
    summary = report.to_json()
    removed = False
    if fix and found:
        size = sum(o.size for o in found)
        _confirm("doctor --fix", f"Delete {len(found)} orphaned objects ({size} bytes)?", yes)
        remove_orphans(blobs, report)
        removed = True
    if as_json:
        click.echo(json.dumps({**summary, "removed": removed}, indent=2))
    else:
        titles = {"blobs": "blobs without items", "staging": "staging without a live session"}
        for kind, title in titles.items():
            click.echo(f"{title}: {summary[kind]['count']} ({summary[kind]['bytes']} bytes)")
            for key in summary[kind]["keys"]:
                click.echo(f"  {key}")
        if removed:
            click.echo(f"removed {len(found)} objects")
    if found and not removed:
        sys.exit(1)


def _follow(client: Client, job_id: str, no_wait: bool) -> None:
    """Unless `no_wait`, wait for a job with a progress bar and report how it ended."""
    if not no_wait:
        client.wait_for_job_complete(job_id)
        _report(client.get_job(job_id))


def _report(job: dict[str, Any]) -> None:
    click.echo(f"job {job['job_id']} {job['status']}: {job['message']}")
    for error in job["errors"]:
        click.echo(f"  {error['file']}: {error['reason']}", err=True)
    if job["status"] == "failed":
        sys.exit(1)


@main.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Wait for the job to finish.")
@click.option("--json", "as_json", is_flag=True, help="Print the job record as JSON.")
@click.pass_context
def job(ctx: click.Context, job_id: str, wait: bool, as_json: bool) -> None:
    """Show a job's status, counts and errors."""
    with _client(ctx) as client:
        if wait:
            client.wait_for_job_complete(job_id)
        record = client.get_job(job_id)
    if as_json:
        click.echo(json.dumps(record, indent=2))
    else:
        _report(record)


@main.command()
@click.argument("unique_name")
@click.pass_context
def info(ctx: click.Context, unique_name: str) -> None:
    """Print a file's details as JSON."""
    with _client(ctx) as client:
        click.echo(json.dumps(client.get_file_details(unique_name), indent=2))


LS_COLUMNS = {
    "collections": [
        ("ID", "id"),
        ("NAME", "name"),
        ("TYPE", "content_type"),
        ("ITEMS", "item_count"),
        ("CREATED", "created"),
    ],
    "operations": [
        ("OPERATION", "operation_id"),
        ("KIND", "kind"),
        ("ANNOTATIONS", "annotation_count"),
        ("FILES", "file_count"),
    ],
    "labels": [("LABEL", "label"), ("ANNOTATIONS", "annotation_count"), ("FILES", "file_count")],
}
"""The table `ls` prints for each listing: header and field, numbers aligned right."""


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    cells = [[title for title, _ in columns]]
    cells += [["" if row[key] is None else str(row[key]) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    numeric = [bool(rows) and isinstance(rows[0][key], int) for _, key in columns]
    for line in cells:
        padded = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(line, widths, numeric, strict=True)
        ]
        click.echo("  ".join(padded).rstrip())


@main.command("ls")
@click.argument(
    "listing", type=click.Choice(list(LS_COLUMNS)), default="collections", required=False
)
@click.option(
    "--type",
    "content_type",
    type=click.Choice(["image", "video", "other"]),
    help="Collections of this type only; with --collection, its type (default image).",
)
@click.option("--collection", help="Operations: count only the files of this collection.")
@click.option("--page", default=0, show_default=True, type=int, help="Page index, from 0.")
@click.option(
    "--page-size", default=MAX_CATALOG_PAGE, show_default=True, type=int, help="Rows a page."
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_context
def ls(
    ctx: click.Context,
    listing: str,
    content_type: str | None,
    collection: str | None,
    page: int,
    page_size: int,
    as_json: bool,
) -> None:
    """List what the lake holds, with counts: collections (default), operations or labels."""
    if collection is not None and listing != "operations":
        raise click.UsageError("--collection only goes with `ls operations`")
    if content_type is not None and listing != "collections" and collection is None:
        raise click.UsageError("--type goes with `ls collections` or `ls operations --collection`")
    with _client(ctx) as client:
        if listing == "collections":
            rows = client.list_collections(content_type, page_index=page, page_size=page_size)
        elif listing == "operations":
            collection_id = (
                client.get_collection_id_by_name(collection, content_type or "image")
                if collection is not None
                else None
            )
            rows = client.list_operations(collection_id, page_index=page, page_size=page_size)
        else:
            rows = client.list_labels(page_index=page, page_size=page_size)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _table(rows, LS_COLUMNS[listing])


def _split_info(pairs: tuple[str, ...]) -> dict[str, float]:
    """`--split train=80 --split test=20` as `split_info` (default: all files in train)."""
    info: dict[str, float] = {}
    for pair in pairs:
        name, _, share = pair.partition("=")
        try:
            info[name.strip()] = float(share)
        except ValueError:
            raise click.BadParameter(
                f"{pair!r} is not SPLIT=PERCENT", param_hint="--split"
            ) from None
    return info or {"train": 100}


Decorator = Callable[[Callable[..., None]], Callable[..., None]]
VERSION_OPTIONS: list[Decorator] = [
    click.argument("name"),
    click.argument("query", default=""),
    _scope,
    click.option("--operation", multiple=True, help="Annotations of these operations."),
    click.option("--annotations", type=click.Choice(["all", "human", "machine"]), default="all",
                 show_default=True, help="Annotations of this kind, without --operation."),
    click.option("--label", multiple=True, help="Only annotations of these labels (repeatable)."),
    click.option("--split", multiple=True, metavar="SPLIT=PERCENT",
                 help="Share of a split: train, validation, test (repeatable; default train=100)."),
    click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split."),
    click.pass_context,
]  # fmt: skip


def _version_command(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(VERSION_OPTIONS):
        command = option(command)
    return command


@main.group()
def dataset() -> None:
    """Dataset versions: frozen selections of files and annotations, with splits."""


def _make_version(update: bool, ctx: click.Context, name: str, query: str, scope: Scope,
                  operation: tuple[str, ...], annotations: str, label: tuple[str, ...],
                  split: tuple[str, ...], seed: int) -> None:  # fmt: skip
    with _client(ctx) as client:
        make = client.update_dataset if update else client.create_dataset
        result = make(
            name,
            collection_id=scope.collection_id(client) or None,
            content_type=scope.content_type,
            query=query,
            filter=scope.filter,
            operation_id_list=list(operation),
            annotation_type=annotations,
            labels=list(label),
            split_info=_split_info(split),
            seed=seed,
        )
    click.echo(f"{result['version_id']}  {result['message']}")
    for split_name, counts in result["splits"].items():
        click.echo(f"  {split_name}: {counts['file_count']} files, {counts['annotation_count']} "
                   "annotations")  # fmt: skip


@dataset.command("create")
@_version_command
def dataset_create(ctx: click.Context, **options: Any) -> None:
    """Freeze version 1 of a new dataset from the files QUERY picks (of --collection)."""
    _make_version(False, ctx, **options)


@dataset.command("update")
@_version_command
def dataset_update(ctx: click.Context, **options: Any) -> None:
    """Freeze the next version of a dataset from a new selection."""
    _make_version(True, ctx, **options)


DATASET_COLUMNS = [
    ("NAME", "dataset_name"),
    ("VERSIONS", "version_count"),
    ("LATEST", "latest_version"),
    ("VERSION ID", "latest_version_id"),
    ("FILES", "file_count"),
    ("ANNOTATIONS", "annotation_count"),
    ("MODIFIED", "modified"),
]


@dataset.command("list")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def dataset_list(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List datasets, or the versions of dataset NAME with counts per split and label."""
    with _client(ctx) as client:
        found: Any = client.get_dataset(name) if name else client.list_datasets()
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif name is None:
        _table(found, DATASET_COLUMNS)
    else:
        for version in found["versions"]:
            counted = f"{version['file_count']} files, {version['annotation_count']} annotations"
            click.echo(
                f"v{version['version']}  {version['version_id']}  {version['created']}  {counted}"
            )
            for split_name, counts in version["splits"].items():
                labels = ", ".join(f"{k} {v}" for k, v in counts["labels"].items())
                click.echo(f"  {split_name}: {counts['file_count']} files ({labels})")


@dataset.command("download")
@click.argument("version_id")
@click.option("--format", "export_type", default="COCO", show_default=True,
              help="COCO, YOLO, PASCAL VOC or MetaLake JSON.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path(),
              help="Folder to write <dataset>_v<n>_<format>/ into (default: here).")  # fmt: skip
@click.option("--no-media", is_flag=True, help="Labels only, without the images.")
@click.pass_context
def dataset_download(
    ctx: click.Context, version_id: str, export_type: str, out: Path, no_media: bool
) -> None:
    """Write a version in a training format."""
    with _client(ctx) as client:
        result = client.download_dataset(version_id, export_type, str(out.resolve()), not no_media)
    click.echo(result["message"])
    if not answers.DATASETS.succeeded(result):
        sys.exit(1)


@dataset.command("delete")
@click.argument("version_id")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@click.pass_context
def dataset_delete(ctx: click.Context, version_id: str, yes: bool) -> None:
    """Delete a version (and its dataset with its last version)."""
    _confirm("dataset delete", f"Delete dataset version {version_id}?", yes)
    with _client(ctx) as client:
        click.echo(client.delete_dataset_version(version_id)["message"])


@main.command("import-dataset")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "folder_format", required=True, help="COCO, YOLO or PASCAL VOC.")
@click.option("--collection", required=True, help="Image collection to upload to.")
@click.option("--operation", required=True, help="Operation id of the imported labels.")
@click.option("--machine", is_flag=True, help="Machine annotations (is_model_run=True).")
@NO_WAIT
@click.pass_context
def import_dataset(ctx: click.Context, path: Path, folder_format: str, collection: str,
                   operation: str, machine: bool, no_wait: bool) -> None:  # fmt: skip
    """Upload a COCO, YOLO or Pascal VOC folder: its images and its labels as one operation."""
    with _client(ctx) as client:
        result = client.import_dataset(
            str(path.resolve()), folder_format, collection, operation, machine
        )
        click.echo(result["message"])
        _follow(client, result["job_id"], no_wait)


def run() -> None:
    """Entry point: MetaLake errors become one line on stderr and exit status 2."""
    try:
        main(standalone_mode=True)
    except MetaLakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
