"""`/docs` and `/redoc` work offline: every script, stylesheet and icon comes from the server."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from tests.servers import Server, serve


class _Assets(HTMLParser):
    """The URLs a page loads: script sources and linked stylesheets and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"] or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("docs") / "lake") as s:
        yield s


@pytest.mark.parametrize(("page", "needs"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
def test_docs_pages_load_only_assets_of_the_server(server: Server, page: str, needs: str):
    response = httpx.get(server.url + page)
    assert response.status_code == 200
    parser = _Assets()
    parser.feed(response.text)
    assert any(needs in url for url in parser.urls), parser.urls
    for url in parser.urls:
        assert not urlparse(url).netloc, f"{page} loads {url} from another host"
        asset = httpx.get(urljoin(server.url + page, url))
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert "googleapis" not in response.text and "cdn." not in response.text


def test_the_openapi_document_the_docs_read_is_served(server: Server):
    assert httpx.get(server.url + "/openapi.json").json()["info"]["title"] == "MetaLake"
