"""`metalake`: the command line of the lake (`serve`, `upload`, `job`, `info`)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from metalake.client.client import Client, lake_home
from metalake.errors import MetaLakeError

log = logging.getLogger("metalake")


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
@click.option(
    "--home",
    envvar="METALAKE_HOME",
    type=click.Path(file_okay=False, path_type=Path),
    help="Lake folder (default $METALAKE_HOME or ./metalake-data).",
)
@click.option("--database-url", envvar="METALAKE_DATABASE_URL", help="Metadata database URL.")
@click.option("-v", "--verbose", is_flag=True, help="Log what the lake does.")
@click.pass_context
def main(ctx: click.Context, home: Path | None, database_url: str | None, verbose: bool) -> None:
    """MetaLake: a self-hosted data lake for computer-vision data."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"home": lake_home(home), "database_url": database_url}


def _client(ctx: click.Context) -> Client:
    return Client(home=ctx.obj["home"], database_url=ctx.obj["database_url"], show_progress=True)


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Open the lake (creating it if needed) and say where it is.

    The HTTP server arrives with the next release; until then use the SDK's embedded
    `Client()` or this command line on the same folder.
    """
    with _client(ctx) as client:
        images = client.get_item_count_from_metalake("image")
        videos = client.get_item_count_from_metalake("video")
        others = client.get_item_count_from_metalake("other")
    home = ctx.obj["home"].resolve()
    click.echo(f"MetaLake is ready in {home} ({images} images, {videos} videos, {others} other).")
    click.echo("Use it with `from metalake import Client; Client()` or `metalake upload ...`.")
    click.echo("The HTTP server (`metalake serve` on a port) arrives with the next release.")


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--type", "content_type", type=click.Choice(["image", "video", "other"]), default="image"
)
@click.option("--collection", required=True, help="Collection to upload to (created if new).")
@click.option("--meta", multiple=True, metavar="FIELD=VALUE", help="Metadata for every file.")
@click.option("--tag", multiple=True, help="Tag for every file (repeatable).")
@click.option("--metadata-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--override", is_flag=True, help="Set the metadata on files already there too.")
@click.option("--prefix", help="Storage folder to put the collection under.")
@click.option("--no-wait", is_flag=True, help="Return once the job is queued.")
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
        if no_wait:
            return
        client.wait_for_job_complete(result["job_id"])
        _report(client.get_job(result["job_id"]))


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


def run() -> None:
    """Entry point: MetaLake errors become one line on stderr and exit status 2."""
    try:
        main(standalone_mode=True)
    except MetaLakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
