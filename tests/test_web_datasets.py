"""The web app's Datasets page in a real browser against a real `metalake serve`: the counts per
split and label it shows are the SDK's, its download links give each format's zip, deleting a
version asks first, and a lake without datasets says how to make one."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from metalake import Client
from metalake.errors import DatasetNotFoundError
from tests import test_web
from tests.servers import Server, serve
from tests.test_web import _need_chromium, log_in, screenshot, session_cookies, sync_api
from tests.web_lake import build_web_lake

browser, page, sdk = test_web.browser, test_web.page, test_web.sdk
"""test_web's fixtures, found here by name; they use this module's `web`."""

COUNT = 8
NAME = "streets-train"
SPLITS = {"train": 50, "validation": 25, "test": 25}


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A served lake of 8 street scenes with dataset `streets-train` in two versions: every file
    in three splits, then the detector's person files in two."""
    _need_chromium()
    home = tmp_path_factory.mktemp("web-datasets")
    with Client(home=str(home), show_progress=False) as client:
        build_web_lake(client, tmp_path_factory.mktemp("web-datasets-data"), count=COUNT)
        streets = client.get_collection_id_by_name("streets", "image")
        client.create_dataset(NAME, collection_id=streets, split_info=SPLITS)
        client.update_dataset(
            NAME,
            collection_id=streets,
            query="annotation.label = person",
            operation_id_list=["detector"],
            split_info={"train": 50, "test": 50},
        )
    with serve(home) as server:
        yield server


def shown_counts(card: object) -> dict[str, dict[str, int]]:
    """A version card's counts table as {row: {split: count}}, rows by label, then `*files` and
    `*annotations` for the totals."""
    return card.evaluate(
        """card => Object.fromEntries([...card.querySelectorAll('[data-testid=count-row]')].map(
            row => [row.dataset.label ?? '*' + row.dataset.total, Object.fromEntries(
                [...row.querySelectorAll('td')].map(
                    td => [td.dataset.split, Number(td.textContent.replace(/,/g, ''))]))]))"""
    )


def expected_counts(version: dict) -> dict[str, dict[str, int]]:
    splits = version["splits"]
    rows = {
        label: {**{s: c["labels"].get(label, 0) for s, c in splits.items()}, "total": total}
        for label, total in version["labels"].items()
    }
    for what in ("file_count", "annotation_count"):
        total = {s: c[what] for s, c in splits.items()}
        rows["*" + what.removesuffix("_count") + "s"] = {**total, "total": version[what]}
    return rows


def version_card(page: object, version: dict) -> object:
    return page.locator(f"[data-testid=version][data-version-id='{version['version_id']}']")


def test_the_list_and_each_versions_counts_match_the_sdk(web: Server, page: object, sdk: Client):
    dataset = sdk.get_dataset(NAME)
    latest = dataset["versions"][-1]
    log_in(page, web, "/datasets")
    row = page.locator(f"[data-testid=dataset][data-name='{NAME}']")
    sync_api.expect(row).to_contain_text("v2")
    cells = row.locator("td")
    assert [cells.nth(i).inner_text() for i in range(1, 5)] == [
        "2",
        "v2",
        str(latest["file_count"]),
        str(latest["annotation_count"]),
    ]
    sync_api.expect(page.locator("nav a.active")).to_have_text("Datasets")
    screenshot(page, "datasets")
    row.locator("a").click()
    page.wait_for_url(f"**/datasets/{NAME}")
    cards = page.locator("[data-testid=version]")
    sync_api.expect(cards).to_have_count(2)
    assert cards.first.get_attribute("data-version") == "2"  # newest first
    for version in dataset["versions"]:
        card = version_card(page, version)
        assert shown_counts(card) == expected_counts(version)
    selected = version_card(page, latest).locator("[data-testid=selection]")
    sync_api.expect(selected).to_contain_text("annotation.label = person")
    sync_api.expect(selected).to_contain_text("operations detector")
    sync_api.expect(selected).to_contain_text("train 50%, test 50% (seed 0)")
    sync_api.expect(selected.locator("a")).to_have_text("streets")
    first = version_card(page, dataset["versions"][0]).locator("[data-testid=selection]")
    sync_api.expect(first).to_contain_text("all files")
    screenshot(page, "dataset")


LAYOUTS = {
    "COCO": lambda splits: {f"annotations/instances_{s}.json" for s in splits},
    "YOLO": lambda splits: {"data.yaml"},
    "PASCAL VOC": lambda splits: {f"ImageSets/Main/{s}.txt" for s in ("train", "val", "test")},
    "MetaLake JSON": lambda splits: {f"{s}.json" for s in splits},
}


def test_the_download_link_gives_the_formats_zip(web: Server, page: object, sdk: Client):
    version = sdk.get_dataset(NAME)["versions"][0]
    splits = set(version["splits"])
    log_in(page, web, f"/datasets/{NAME}")
    card = version_card(page, version)
    link = card.locator("[data-testid=download-version]")
    card.locator("select[name=export_type]").select_option("COCO")
    card.locator("input[name=with_media]").check()
    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.suggested_filename == f"{NAME}_v1_coco.zip"
    with zipfile.ZipFile(download.path()) as opened:
        names = set(opened.namelist())
    assert LAYOUTS["COCO"](splits) <= names
    media = {n for n in names if n.startswith("images/")}
    assert len(media) == version["file_count"]
    assert {n.split("/")[1] for n in media} == splits

    card.locator("input[name=with_media]").uncheck()
    cookies = session_cookies(web)
    for export_type, layout in LAYOUTS.items():
        card.locator("select[name=export_type]").select_option(export_type)
        href = link.get_attribute("href")
        assert "with_media=false" in href
        answer = httpx.get(web.url + href, cookies=cookies)
        assert answer.status_code == 200, answer.text
        with zipfile.ZipFile(io.BytesIO(answer.content)) as opened:
            names = set(opened.namelist())
        assert layout(splits) <= names, (export_type, sorted(names))
        assert not any(re.search(r"\.jpe?g$", n) for n in names)


def test_deleting_a_version_asks_first(web: Server, page: object, sdk: Client):
    streets = sdk.get_collection_id_by_name("streets", "image")
    sdk.create_dataset("doomed", collection_id=streets)
    sdk.update_dataset("doomed", collection_id=streets, query="annotation.label = person")
    first, second = sdk.get_dataset("doomed")["versions"]
    log_in(page, web, "/datasets/doomed")
    version_card(page, second).locator("[data-testid=delete-version]").click()
    dialog = page.locator("[data-testid=confirm]")
    sync_api.expect(dialog).to_contain_text("Delete version 2 of doomed")
    screenshot(page, "datasets-delete")
    dialog.locator("button", has_text="Cancel").click()
    sync_api.expect(dialog).to_have_count(0)
    assert len(sdk.get_dataset("doomed")["versions"]) == 2

    version_card(page, second).locator("[data-testid=delete-version]").click()
    dialog.locator("button", has_text="Delete").click()
    sync_api.expect(page.locator("[data-testid=version]")).to_have_count(1)
    assert [v["version"] for v in sdk.get_dataset("doomed")["versions"]] == [1]

    version_card(page, first).locator("[data-testid=delete-version]").click()
    sync_api.expect(dialog).to_contain_text("the last one")
    dialog.locator("button", has_text="Delete").click()
    page.wait_for_url(re.compile(r"/datasets$"))
    sync_api.expect(page.locator(f"[data-testid=dataset][data-name='{NAME}']")).to_have_count(1)
    sync_api.expect(page.locator("[data-testid=dataset][data-name=doomed]")).to_have_count(0)
    with pytest.raises(DatasetNotFoundError):
        sdk.get_dataset("doomed")


def test_a_lake_without_datasets_says_how_to_make_one(page: object, tmp_path: Path):
    (tmp_path / "bare").mkdir()
    with serve(tmp_path / "bare") as bare:
        log_in(page, bare, "/datasets")
        empty = page.locator("[data-testid=datasets-empty]")
        sync_api.expect(empty).to_contain_text("client.create_dataset(")
        sync_api.expect(empty).to_contain_text("metalake dataset create")
        screenshot(page, "datasets-empty")
        page.goto(bare.url + "/datasets/nothing")
        sync_api.expect(page.locator("[data-testid=page-error]")).to_contain_text("nothing")
