"""The web app in a real browser (Debian's chromium driven by Playwright) against a real
`metalake serve`, checked against what the SDK reads back.

Where chromium is missing the tests skip with how to enable them, except under CI (`$CI`),
where a missing browser fails them. `$METALAKE_SCREENSHOTS=DIR` saves a screenshot of each page
there (docs/screenshots holds the ones the README shows).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from metalake import Client
from metalake.errors import InvalidQueryError
from metalake.lake.keys import create_key, revoke_key
from metalake.lake.lake import lake_database
from tests.browser import CHROMIUM as CHROMIUM_PATH
from tests.browser import CHROMIUM_ARGS
from tests.servers import Server, serve
from tests.web_lake import IMAGE_SIZE, build_web_lake, car_box, make_scene

CHROMIUM = Path(CHROMIUM_PATH)
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 15_000

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
sync_api.expect.set_options(timeout=TIMEOUT_MS)  # a loaded 2-core machine is slow to paint


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = (
        "browser tests need Debian's chromium at /usr/bin/chromium: run `make test` as root "
        "(it installs it with apt-get) or `apt-get install -y chromium`"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A served lake of 12 annotated street scenes (collection `streets`)."""
    _need_chromium()
    home = tmp_path_factory.mktemp("web-lake")
    with Client(home=str(home), show_progress=False) as client:
        build_web_lake(client, tmp_path_factory.mktemp("web-data"))
    with serve(home) as server:
        yield server


@pytest.fixture(scope="module")
def browser(web: Server) -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def sdk(web: Server) -> Iterator[Client]:
    with Client(web.url, web.key, web.secret, show_progress=False) as client:
        yield client


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], errors


def log_in(page: object, server: Server, path: str = "/") -> None:
    page.goto(server.url + path)
    submit_login(page, server)


def submit_login(page: object, server: Server) -> None:
    page.fill("input[name=api_key]", server.key)
    page.fill("input[name=secret]", server.secret)
    page.click("form#login button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def shown_count(page: object) -> int:
    """The match count once it is a number."""
    counter = page.locator("[data-testid=match-count]")
    sync_api.expect(counter).to_have_text(re.compile(r"^[\d,]+$"))
    return int(counter.inner_text().replace(",", ""))


def run_query(page: object, query: str) -> None:
    page.fill("input[name=query]", query)
    page.press("input[name=query]", "Enter")
    page.wait_for_url(re.compile(r"[?&]q="))


def screenshot(page: object, name: str) -> None:
    folder = os.environ.get("METALAKE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def tile_names(page: object) -> set[str]:
    tiles = page.locator("[data-testid=tile]")
    return {tiles.nth(i).get_attribute("data-unique-name") for i in range(tiles.count())}


def session_cookies(server: Server) -> httpx.Cookies:
    answer = httpx.post(
        f"{server.url}/auth/login", json={"api_key": server.key, "secret": server.secret}
    )
    answer.raise_for_status()
    return answer.cookies


# Sessions -------------------------------------------------------------------------------------


def test_a_page_view_without_a_session_is_refused(web: Server):
    answer = httpx.get(f"{web.url}/collections?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fcollections%3Fx%3D1"
    api = httpx.get(f"{web.url}/api/v1/collections", headers={"x-metalake-web": "1"})
    assert api.status_code == 401 and "www-authenticate" not in api.headers
    assert "www-authenticate" in httpx.get(f"{web.url}/api/v1/collections").headers
    forged = httpx.get(f"{web.url}/", cookies={"metalake_session": "forged"})
    assert forged.status_code == 303 and forged.headers["location"].startswith("/login")


def test_session_cookie_needs_csrf_token_for_changes_and_ends_at_logout(web: Server):
    cookies = session_cookies(web)
    set_cookie = "; ".join(
        h
        for name, h in httpx.post(
            f"{web.url}/auth/login", json={"api_key": web.key, "secret": web.secret}
        ).headers.multi_items()
        if name == "set-cookie"
    )
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie and "Max-Age=" in set_cookie
    client = httpx.Client(base_url=web.url, cookies=cookies)
    body = {"selection": {"content_type": "image", "query": "name = nothing.jpg"}}
    refused = client.post("/api/v1/items/trash", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    csrf = {"x-csrf-token": cookies["metalake_csrf"]}
    assert client.post("/api/v1/items/trash", json=body, headers=csrf).status_code == 200
    assert client.get("/api/v1/items/count").status_code in (200, 405)
    assert client.post("/auth/logout", headers=csrf).status_code == 200
    ended = httpx.get(f"{web.url}/api/v1/collections", cookies=cookies)
    assert ended.status_code == 401 and "log in again" in ended.json()["message"]
    wrong = httpx.post(f"{web.url}/auth/login", json={"api_key": web.key, "secret": "wrong"})
    assert wrong.status_code == 401
    first = session_cookies(web)
    again = httpx.post(
        f"{web.url}/auth/login",
        json={"api_key": web.key, "secret": web.secret},
        cookies=first,
    )
    assert again.cookies["metalake_session"] != first["metalake_session"]
    assert httpx.get(f"{web.url}/api/v1/collections", cookies=first).status_code == 401
    login_page = httpx.get(f"{web.url}/login")
    assert login_page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in login_page.headers["content-security-policy"]


def test_the_cookie_opens_only_the_web_apps_routes(web: Server, sdk: Client):
    """A LayerNext GET that removes annotations, sent with the cookie alone (as an `img` of a
    page on another port of the same host would send it: SameSite ignores ports), is refused."""
    cookies = session_cookies(web)
    collection_id = sdk.get_collection_id_by_name("streets", "image")
    before = {o["operation_id"]: o["annotation_count"] for o in sdk.list_operations()}
    answer = httpx.get(
        f"{web.url}/datalake/api/client/collection/deleteAnnotation",
        params={"collectionId": collection_id, "operationId": "review"},
        cookies=cookies,
    )
    assert answer.status_code == 401
    assert {o["operation_id"]: o["annotation_count"] for o in sdk.list_operations()} == before
    odd = httpx.post(
        f"{web.url}/api/v1/items/count",
        json={"selection": {"content_type": "image"}},
        cookies=cookies,
        headers={"x-csrf-token": "\u00e9t\u00e9".encode("latin-1")},
    )
    assert odd.status_code == 403 and odd.json()["error"] == "csrf_failed"


@pytest.mark.parametrize("target", ["/\\evil.test/x", "/\t/evil.test/x", "//evil.test/x"])
def test_logging_in_never_goes_to_another_site(web: Server, page: object, target: str):
    """`next` is read as the browser reads a URL: a backslash is a slash, a tab is dropped."""
    elsewhere: list[str] = []
    page.route(
        "http://evil.test/**",
        lambda route: (elsewhere.append(route.request.url), route.fulfill(body="elsewhere")),
    )
    page.goto(f"{web.url}/login?next={quote(target, safe='')}")
    submit_login(page, web)
    assert elsewhere == [] and page.url == f"{web.url}/"


def test_login_link_opens_one_session_once(web: Server, page: object):
    with lake_database(web.home) as db:
        from metalake.lake.web_sessions import create_login_link

        token = create_login_link(db)
    page.goto(f"{web.url}/?token={token}")
    page.wait_for_selector("[data-testid=tile] img")
    assert "token" not in page.url
    page.context.clear_cookies()
    page.goto(f"{web.url}/?token={token}")
    page.wait_for_url(re.compile("/login"))
    assert "used already" in page.inner_text("[data-testid=login-error]")


def test_serve_prints_a_login_link(web: Server):
    assert re.search(r"Open http://127\.0\.0\.1:\d+/\?token=\S+", web.log.read_text())


def test_a_revoked_key_ends_its_session_and_login_returns_to_the_view(web: Server, page: object):
    with lake_database(web.home) as db:
        short = create_key(db, "short-lived")
    temporary = Server(web.url, short.key, short.secret, web.process, web.log, web.home)
    log_in(page, temporary, "/?q=tags%20%3D%20night")
    assert page.input_value("input[name=query]") == "tags = night"
    assert shown_count(page) == 3
    with lake_database(web.home) as db:
        revoke_key(db, short.key)
    page.reload()
    page.wait_for_url(re.compile("/login"))
    submit_login(page, web)
    assert "/?q=tags" in page.url
    assert shown_count(page) == 3
    assert page.input_value("input[name=query]") == "tags = night"


# Explore --------------------------------------------------------------------------------------


def test_grid_query_count_and_facets_match_the_sdk(web: Server, page: object, sdk: Client):
    log_in(page, web)
    page.wait_for_selector("[data-testid=tile] img")
    assert shown_count(page) == sdk.get_item_count_from_metalake("image") == 12
    assert len(tile_names(page)) == 12
    labels = page.locator("[data-testid=tile] svg [data-shape]")
    drawn = {labels.nth(i).get_attribute("data-shape") for i in range(labels.count())}
    assert drawn == {"rectangle", "polygon", "line", "points"}
    screenshot(page, "explore")
    query = "annotation(label=person AND confidence>=0.5) AND metadata.camera != cam-c"
    run_query(page, query)
    expected = sdk.get_item_count_from_metalake("image", query)
    assert 0 < expected < 12
    assert shown_count(page) == expected
    page.wait_for_function(f"document.querySelectorAll('[data-testid=tile]').length === {expected}")
    found = {
        i["unique_name"] for i in sdk.get_item_list_from_datalake("image", query, page_size=100)
    }
    assert tile_names(page) == found
    person = page.locator("[data-testid=facets] [data-field=label][data-value=person]")
    sync_api.expect(person.locator(".count")).to_have_text(str(expected))
    screenshot(page, "query")


def test_clicking_a_facet_adds_it_to_the_query(web: Server, page: object, sdk: Client):
    log_in(page, web)
    page.click("[data-testid=facet][data-field=tag][data-value=night]")
    page.wait_for_url(re.compile("q=tags"))
    assert page.input_value("input[name=query]") == 'tags = "night"'
    assert shown_count(page) == sdk.get_item_count_from_metalake("image", "tags = night") == 3


def test_a_malformed_query_shows_the_lakes_error_before_running(
    web: Server, page: object, sdk: Client
):
    log_in(page, web)
    bad = "annotation(label=car AND confidence>=0.8"
    with pytest.raises(InvalidQueryError) as refused:
        sdk.get_item_count_from_metalake("image", bad)
    page.fill("input[name=query]", bad)
    error = page.locator("[data-testid=query-error]")
    sync_api.expect(error).to_contain_text(str(refused.value))
    assert "?q=" not in page.url
    assert shown_count(page) == 12
    screenshot(page, "query-error")


# Item view ------------------------------------------------------------------------------------


def open_item(page: object, server: Server, name: str) -> None:
    log_in(page, server, f"/items/{name}")
    page.wait_for_selector(".viewer [data-shape]")
    page.wait_for_function("document.querySelector('.viewer img').complete")


def test_item_view_draws_each_annotation_where_it_is(web: Server, page: object, sdk: Client):
    name = "streets_scene_003.jpg"
    open_item(page, web, name)
    annotations = sdk.get_file_details(name)["annotations"]
    shapes = page.locator(".viewer [data-shape]")
    assert shapes.count() == len(annotations) == 5
    assert sorted(
        (shapes.nth(i).get_attribute("data-label"), shapes.nth(i).get_attribute("data-operation"))
        for i in range(shapes.count())
    ) == sorted((a["label"], a["operation_id"]) for a in annotations)
    image = page.locator(".viewer img").bounding_box()
    scale = image["width"] / IMAGE_SIZE[0]
    x, y, w, h = car_box(3)
    drawn = page.locator(".viewer [data-shape=rectangle][data-operation=review]")
    geometry = [float(drawn.get_attribute(a)) for a in ("x", "y", "width", "height")]
    assert geometry == [x, y, w, h]
    car = drawn.bounding_box()  # on screen, with the stroke (2 px each way at most)
    stroke = 2 * scale
    assert car["x"] == pytest.approx(image["x"] + x * scale, abs=stroke)
    assert car["y"] == pytest.approx(image["y"] + y * scale, abs=stroke)
    assert car["width"] == pytest.approx(w * scale, abs=2 * stroke)
    assert car["height"] == pytest.approx(h * scale, abs=2 * stroke)
    from PIL import Image

    shot = Image.open(io.BytesIO(page.screenshot()))
    inside = shot.getpixel((int(car["x"] + car["width"] / 2), int(car["y"] + car["height"] / 2)))
    assert inside[0] > 200 and inside[1] > 160 and inside[2] < 90, inside  # the yellow block
    screenshot(page, "item")


def test_confidence_slider_and_operation_toggle_filter_the_shapes(web: Server, page: object):
    open_item(page, web, "streets_scene_003.jpg")
    shapes = page.locator(".viewer [data-shape]")
    page.locator(".item-panel input[name=confidence]").fill("0.95")
    sync_api.expect(shapes).to_have_count(3)  # the two human shapes have no confidence, and eye
    assert shapes.nth(2).get_attribute("data-label") == "eye"
    page.uncheck(".item-panel input[name=show_review]")
    sync_api.expect(shapes).to_have_count(1)


def test_metadata_edited_in_the_browser_reads_back_through_the_sdk(
    web: Server, page: object, sdk: Client
):
    name = "streets_scene_005.jpg"
    open_item(page, web, name)
    keys = page.locator("[name=meta_key]")
    values = page.locator("[name=meta_value]")
    last = keys.count() - 1
    keys.nth(last).fill("x" * 300)
    values.nth(last).fill("1")
    page.click("[data-testid=save-metadata]")
    error = page.locator("[data-testid=metadata-error]")
    sync_api.expect(error).to_contain_text("at most 255 characters")
    assert "x" * 300 not in sdk.get_file_details(name)["metadata"]
    keys.nth(last).fill("weather")
    values.nth(last).fill("42")
    page.fill("input[name=new_tags]", "checked, reviewed")
    page.click("[data-testid=save-metadata]")
    sync_api.expect(page.locator("[data-testid=metadata-saved]")).to_have_text("saved")
    details = sdk.get_file_details(name)
    assert details["metadata"]["weather"] == 42 and details["metadata"]["camera"] == "cam-c"
    assert {"checked", "reviewed"} <= set(details["tags"])


def test_previous_and_next_follow_the_query(web: Server, page: object, sdk: Client):
    query = "metadata.camera = cam-a"
    names = [
        i["unique_name"]
        for i in sdk.get_item_list_from_datalake(
            "image", query, sort_order={"sort_by_field": "name", "sort_order": "ASC"}
        )
    ]
    assert len(names) == 4
    open_item(page, web, f"{names[1]}?q={query}&sort=name:ASC")
    page.click("[data-testid=next]")
    page.wait_for_url(re.compile(re.escape(names[2])))
    page.click("[data-testid=previous]")
    page.wait_for_url(re.compile(re.escape(names[1])))


# Curate ---------------------------------------------------------------------------------------


def test_select_add_to_collection_trash_and_restore(web: Server, page: object, sdk: Client):
    log_in(page, web, "/?sort=name:ASC")
    page.wait_for_selector("[data-testid=tile] img")
    page.click("[data-testid=tile][data-unique-name='streets_scene_000.jpg'] .pick")
    page.click("[data-testid=tile][data-unique-name='streets_scene_002.jpg']", modifiers=["Shift"])
    sync_api.expect(page.locator("[data-testid=selected-count]")).to_have_text("3 selected")
    page.fill("input[name=collection_name]", "picked")
    page.click("[data-testid=add-to-collection]")
    sync_api.expect(page.locator("[data-testid=selected-count]")).to_contain_text("3 files added")
    picked = sdk.get_collection_id_by_name("picked", "image")
    members = sdk.get_item_list_from_collection(picked, "", page_size=100)
    assert sorted(m["unique_name"] for m in members) == [
        f"streets_scene_00{i}.jpg" for i in range(3)
    ]
    screenshot(page, "selection")

    run_query(page, "metadata.camera = cam-b")
    assert shown_count(page) == 4
    page.click("[data-testid=tile] .pick >> nth=0")
    page.click("[data-testid=select-all]")
    page.click("[data-testid=trash-selection]")
    dialog = page.locator("[data-testid=confirm]")
    sync_api.expect(dialog).to_contain_text("Move 4 files to the trash?")
    dialog.locator("button", has_text="Move to trash").click()
    sync_api.expect(page.locator("[data-testid=match-count]")).to_have_text("0")
    assert sdk.get_item_count_from_metalake("image") == 8

    page.goto(web.url + "/trash")
    rows = page.locator("[data-testid=trashed]")
    sync_api.expect(rows).to_have_count(4)
    screenshot(page, "trash")
    for i in range(4):
        rows.nth(i).locator("input[name=pick]").check()
    page.click("[data-testid=restore]")
    sync_api.expect(page.locator("[data-testid=trash-status]")).to_have_text("4 files restored")
    assert sdk.get_item_count_from_metalake("image") == 12


def test_emptying_the_trash_with_no_age_deletes_nothing(web: Server, page: object, sdk: Client):
    """A blank "older than" field was sent as 0 days: every trashed file deleted for good."""
    sdk.trash_objects_from_datalake("name = scene_011.jpg")
    try:
        log_in(page, web, "/trash")
        sync_api.expect(page.locator("[data-testid=trashed]")).to_have_count(1)
        page.fill("input[name=older_than_days]", "")
        page.click("[data-testid=empty-trash]")
        page.locator("[data-testid=confirm] button", has_text="Delete").click()
        sync_api.expect(page.locator("[data-testid=trash-error]")).to_contain_text(
            "older_than_days"
        )
        sync_api.expect(page.locator("[data-testid=trashed]")).to_have_count(1)
    finally:
        sdk.restore_from_trash(query="name = scene_011.jpg")
    assert sdk.get_item_count_from_metalake("image") == 12


# Collections, downloads, upload, jobs ---------------------------------------------------------


def test_collections_list_and_streamed_downloads(web: Server, page: object, sdk: Client):
    streets = sdk.get_collection_id_by_name("streets", "image")
    log_in(page, web, "/collections")
    row = page.locator(f"[data-testid=collection][data-id='{streets}']")
    sync_api.expect(row).to_contain_text("12")
    screenshot(page, "collections")
    row.locator("a").click()
    page.wait_for_selector("[data-testid=collection-head] h2")
    assert shown_count(page) == 12
    screenshot(page, "collection")
    cookies = session_cookies(web)
    document = httpx.get(f"{web.url}/api/v1/collections/{streets}/export.json", cookies=cookies)
    images = json.loads(document.content)["images"]
    assert len(images) == 12 and all(len(i["annotations"]) == 5 for i in images)
    archive = httpx.get(f"{web.url}/api/v1/collections/{streets}/export.zip", cookies=cookies)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        names = opened.namelist()
        assert names[-1] == "streets/annotations.json"
        assert json.loads(opened.read(names[-1]))["images"] == images
        data = opened.read("streets/data/streets_scene_004.jpg")
    assert (
        hashlib.sha256(data).hexdigest() == sdk.get_file_details("streets_scene_004.jpg")["sha256"]
    )


def test_upload_from_the_browser_then_skip_what_is_there(
    web: Server, page: object, sdk: Client, tmp_path: Path
):
    folder = tmp_path / "batch"
    folder.mkdir()
    files = [make_scene(folder / f"new_{i}.jpg", 20 + i) for i in range(3)]
    big = folder / "big.bin"
    big.write_bytes(os.urandom(17 << 20))  # two parts of 16 MiB
    log_in(page, web, "/upload")
    page.set_input_files("input[name=files]", [str(f) for f in files])
    page.fill("input[name=collection_name]", "browser-upload")
    page.fill("input[name=upload_metadata]", "shift=late, lens=35")
    page.fill("input[name=upload_tags]", "web")
    page.click("[data-testid=start-upload]")
    job = page.locator("[data-testid=upload-job] [data-testid=job]")
    sync_api.expect(job).to_have_attribute("data-status", "completed")
    screenshot(page, "upload")
    collection = sdk.get_collection_id_by_name("browser-upload", "image")
    uploaded = sdk.get_item_list_from_collection(collection, "", page_size=100)
    assert sorted(i["file_name"] for i in uploaded) == ["new_0.jpg", "new_1.jpg", "new_2.jpg"]
    details = sdk.get_file_details(uploaded[0]["unique_name"])
    assert details["metadata"]["shift"] == "late" and "web" in details["tags"]
    assert details["metadata"]["lens"] == 35  # numbers read as `metalake upload --meta` reads them
    assert {i["sha256"] for i in uploaded} == {
        hashlib.sha256(f.read_bytes()).hexdigest() for f in files
    }

    page.reload()
    page.set_input_files("input[name=files]", [str(f) for f in files])
    page.fill("input[name=collection_name]", "browser-upload")
    page.click("[data-testid=start-upload]")
    sync_api.expect(job).to_have_attribute("data-status", "completed")
    states = page.locator("[data-testid=upload-file] .state")
    assert {states.nth(i).inner_text() for i in range(3)} == {"already in the collection"}

    page.reload()
    page.set_input_files("input[name=files]", [str(big)])
    page.fill("input[name=collection_name]", "browser-big")
    page.click("[data-testid=start-upload]")
    sync_api.expect(job).to_have_attribute("data-status", "completed", timeout=60_000)
    big_id = sdk.get_collection_id_by_name("browser-big", "other")
    [stored] = sdk.get_item_list_from_collection(big_id, "")
    assert stored["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()

    page.goto(web.url + "/jobs")
    rows = page.locator("[data-testid=jobs] [data-testid=job]")
    sync_api.expect(rows.first).to_have_attribute("data-status", "completed")
    assert rows.count() == len(sdk_jobs(web))
    screenshot(page, "jobs")


def sdk_jobs(server: Server) -> list[dict]:
    answer = httpx.get(f"{server.url}/api/v1/jobs", auth=(server.key, server.secret))
    answer.raise_for_status()
    return answer.json()


def test_the_web_app_on_postgresql_and_s3(
    browser: object, postgres_url: str, s3_storage: str, tmp_path: Path
):
    home = tmp_path / "lake"
    with Client(
        home=str(home), database_url=postgres_url, storage=s3_storage, show_progress=False
    ) as client:
        build_web_lake(client, tmp_path / "data", count=4)
    with serve(home, postgres_url, s3_storage) as server:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        log_in(page, server)
        page.wait_for_function(
            "[...document.querySelectorAll('[data-testid=tile] img')]"
            ".filter(i => i.complete && i.naturalWidth > 0).length === 4"
        )
        assert shown_count(page) == 4
        run_query(page, "annotation.label = person")
        assert shown_count(page) == 2
        page.click("[data-testid=tile] .caption >> nth=0")
        page.wait_for_selector(".viewer [data-shape]")
        page.wait_for_function(  # the original, from a presigned S3 URL, replaces the thumbnail
            "document.querySelector('.viewer img').src.includes('X-Amz-Signature')"
        )
        assert page.locator(".viewer [data-shape]").count() == 5
        page.goto(server.url + "/upload")
        page.set_input_files("input[name=files]", [str(make_scene(tmp_path / "s3.jpg", 1))])
        page.fill("input[name=collection_name]", "streets")
        page.click("[data-testid=start-upload]")
        sync_api.expect(page.locator("[data-testid=upload-error]")).to_contain_text(
            "upload from the SDK"
        )
        context.close()


def test_files_dropped_on_the_page_are_uploaded(web: Server, page: object, sdk: Client, tmp_path):
    sources = [make_scene(tmp_path / f"drop_{i}.jpg", 40 + i) for i in range(2)]
    log_in(page, web, "/upload")
    payload = [{"name": p.name, "data": list(p.read_bytes())} for p in sources]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = new Uint8Array(f.data);
                transfer.items.add(new File([bytes], f.name, {type: "image/jpeg"}));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event("[data-testid=dropzone]", "drop", {"dataTransfer": transfer})
    sync_api.expect(page.locator("[data-testid=upload-file]")).to_have_count(2)
    page.fill("input[name=collection_name]", "dropped")
    page.click("[data-testid=start-upload]")
    job = page.locator("[data-testid=upload-job] [data-testid=job]")
    sync_api.expect(job).to_have_attribute("data-status", "completed")
    dropped = sdk.get_collection_id_by_name("dropped", "image")
    listed = sdk.get_item_list_from_collection(dropped, "")
    assert sorted(i["file_name"] for i in listed) == ["drop_0.jpg", "drop_1.jpg"]


def test_an_unknown_collection_is_named_in_the_lakes_words(web: Server, page: object):
    log_in(page, web, "/collections/no-such-id")
    error = page.locator("[data-testid=page-error]")
    sync_api.expect(error).to_have_text("no collection with id 'no-such-id'")


def test_a_facet_value_with_quotes_and_backslashes_makes_a_valid_query(
    web: Server, page: object, sdk: Client, tmp_path: Path
):
    tag = 'say "hi" \\ bye'
    document = tmp_path / "tag.json"
    document.write_text(
        json.dumps(
            {
                "files": [
                    {
                        "file": "streets_scene_007.jpg",
                        "metadata": {"Tags": [tag], "note": "two\nlines"},
                    }
                ]
            }
        )
    )
    sdk.upload_metadata_by_unique_name(str(document))
    log_in(page, web)
    page.locator("[data-testid=facet][data-field=tag]", has_text="bye").click()
    page.wait_for_url(re.compile("q=tags"))
    assert shown_count(page) == 1
    sync_api.expect(page.locator("[data-testid=tile]")).to_have_count(1)
    assert tile_names(page) == {"streets_scene_007.jpg"}
    page.goto(web.url + "/")
    page.fill("input[name=facet_field]", "note")
    page.press("input[name=facet_field]", "Enter")
    page.locator("[data-testid=facet][data-field='metadata.note']").click()
    page.wait_for_url(re.compile("q=metadata"))
    assert shown_count(page) == 1


def test_a_page_that_fails_to_load_is_named_and_can_be_retried(web: Server, page: object):
    log_in(page, web, "/?at=not-a-cursor")
    error = page.locator("[data-testid=grid-error]")
    sync_api.expect(error).to_contain_text("cursor")
    assert page.locator("[data-testid=tile]").count() == 0


def test_a_video_plays_with_a_frame_scrubber(
    web: Server, page: object, sdk: Client, tmp_path: Path
):
    from tests.media_factory import make_video

    folder = tmp_path / "clips"
    folder.mkdir()
    make_video(folder / "clip.mp4", frames=48, fps=24)
    job = sdk.upload_files_to_collection(str(folder), "video", "clips")
    sdk.wait_for_job_complete(job["job_id"])
    log_in(page, web, "/?type=video")
    sync_api.expect(page.locator("[data-testid=tile]")).to_have_count(1)
    page.click("[data-testid=tile] .caption")
    page.wait_for_function("document.querySelector('.viewer video')?.readyState >= 1")
    scrubber = page.locator("input[name=frame]")
    assert int(scrubber.get_attribute("max")) == 47
    scrubber.fill("24")
    page.wait_for_function(
        "Math.abs(document.querySelector('.viewer video').currentTime - 1) < 0.05"
    )


def test_an_interrupted_upload_resumes_after_a_reload_without_sending_parts_again(
    web: Server, page: object, sdk: Client, tmp_path: Path
):
    big = tmp_path / "resume.bin"
    big.write_bytes(os.urandom(17 << 20))  # parts of 16 MiB and 1 MiB
    sent: list[str] = []

    def count_parts(route: object) -> None:
        url = route.request.url
        if route.request.method == "PUT":
            sent.append(re.sub(r"\?.*", "", url).rsplit("/", 1)[-1])
            if url.split("?")[0].endswith("/parts/2") and sent.count("2") == 1:
                route.abort()  # the connection drops while part 2 is sent
                return
        route.continue_()

    page.route(re.compile(r".*/api/v1/uploads/.*/parts/.*"), count_parts)
    log_in(page, web, "/upload")

    def start() -> None:
        page.set_input_files("input[name=files]", [str(big)])
        page.fill("input[name=collection_name]", "resumed")
        page.click("[data-testid=start-upload]")

    start()
    sync_api.expect(page.locator("[data-testid=upload-error]")).to_be_visible(timeout=60_000)
    page.reload()
    sync_api.expect(page.locator("[data-testid=pending-upload]")).to_contain_text("did not finish")
    start()
    job = page.locator("[data-testid=upload-job] [data-testid=job]")
    sync_api.expect(job).to_have_attribute("data-status", "completed", timeout=60_000)
    assert sent == ["1", "2", "2"]  # part 1 once; part 2 again after it failed
    resumed = sdk.get_collection_id_by_name("resumed", "other")
    [stored] = sdk.get_item_list_from_collection(resumed, "")
    assert stored["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
