"""`/docs` (Swagger UI) and `/redoc` render with no network: every file the pages reference is served by the
API itself, from packaged assets, and nothing they reference points off-host.

A real uvicorn serves the app; the test reads each page's HTML, follows every reference in it (attributes,
the Swagger UI config, the stylesheet's url(...) references, the bundles' licence pointers) and fetches it
from the app. Then Debian's chromium renders each page headless with every host but 127.0.0.1 unresolvable:
the operations of the live OpenAPI document must appear, which only the JavaScript bundles can draw.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.support.mlflow import mlflow_settings
from tests.support.platform import Platform, serve_platform

pytestmark = pytest.mark.realparts
PAGES = ("/docs", "/redoc")
URL_ATTRIBUTES = {"src", "href", "spec-url", "action", "data", "poster"}
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--virtual-time-budget=15000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no host but loopback resolves: no CDN
)  # fmt: skip


class References(HTMLParser):
    """Every URL-valued attribute of a page, and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in URL_ATTRIBUTES and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def page_references(html: str) -> References:
    parser = References()
    parser.feed(html)
    for script in parser.scripts:  # Swagger UI's config: the spec URL and the OAuth2 redirect page
        parser.urls += re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", script)
        parser.urls += re.findall(r"""window\.location\.origin\s*\+\s*['"]([^'"]+)['"]""", script)
    return parser


def css_references(css: str) -> list[str]:
    """The targets of ``url(...)`` and ``@import`` in a stylesheet, inline ``data:`` images excepted."""
    targets = re.findall(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""", css)
    targets += re.findall(r"""@import\s+['"]([^'"]+)['"]""", css)
    return [t for t in targets if not t.startswith("data:")]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with serve_platform(mlflow_settings(tmp_path_factory.mktemp("docs") / "state")) as served:
        yield served


def fetch_same_host(platform: Platform, base: str, reference: str) -> httpx.Response:
    url = urljoin(f"{platform.url}{base}", reference)
    assert urlsplit(url).netloc == urlsplit(platform.url).netloc, f"{reference} on {base} points off-host"
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, (reference, response.status_code)
    assert response.content, reference
    return response


@pytest.mark.parametrize("page", PAGES)
def test_every_file_the_page_references_is_served_by_the_api_itself(platform: Platform, page: str) -> None:
    html = fetch_same_host(platform, "/", page)
    assert html.headers["content-type"].startswith("text/html")
    references = page_references(html.text).urls
    assert any(r.endswith(".js") for r in references) and "/openapi.json" in references
    for reference in references:
        fetch_same_host(platform, page, reference)


@pytest.mark.parametrize("page", PAGES)
def test_no_page_or_stylesheet_names_another_host(platform: Platform, page: str) -> None:
    html = httpx.get(f"{platform.url}{page}").text
    assert not re.findall(r"(?:https?:)?//[\w.-]+", html.replace("window.location.origin", ""))
    for reference in page_references(html).urls:
        if reference.endswith(".css"):
            css = fetch_same_host(platform, page, reference)
            assert css.headers["content-type"].startswith("text/css")
            for target in css_references(css.text):
                fetch_same_host(platform, reference, target)


def test_swagger_ui_has_its_online_validator_badge_off(platform: Platform) -> None:
    html = httpx.get(f"{platform.url}/docs").text
    assert '"validatorUrl": null' in html  # else the badge loads an image from validator.swagger.io


def test_the_openapi_document_the_pages_load_describes_this_api(platform: Platform) -> None:
    document = httpx.get(f"{platform.url}/openapi.json").json()
    assert document["info"]["title"] == "Hokusai platform API"
    assert "/api/v1/runs" in document["paths"]


@pytest.mark.parametrize("bundle", ["swagger-ui-bundle.js", "redoc.standalone.js"])
def test_each_bundle_is_served_with_the_licence_file_its_header_points_to(
    platform: Platform, bundle: str
) -> None:
    script = fetch_same_host(platform, "/", f"/docs/assets/{bundle}")
    assert script.headers["content-type"].startswith("text/javascript")
    pointer = re.match(r"/\*! For license information please see (\S+) \*/", script.text)
    assert pointer is not None, script.text[:120]
    licence = fetch_same_host(platform, f"/docs/assets/{bundle}", pointer.group(1))
    assert "License" in licence.text


def test_the_upstream_licences_of_both_bundles_are_packaged() -> None:
    from hokusai.server.routes import docs

    assert "Apache License" in docs.ASSETS["swagger-ui.LICENSE"][0].read_text()
    assert "SmartBear" in docs.ASSETS["swagger-ui.NOTICE"][0].read_text()
    assert "MIT License" in docs.ASSETS["redoc.LICENSE"][0].read_text()
    assert all(Path(path).is_file() for path, _ in docs.ASSETS.values())


def test_an_asset_that_is_not_packaged_is_404_in_the_error_shape(platform: Platform) -> None:
    response = httpx.get(f"{platform.url}/docs/assets/settings.py")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("page", "drawn"),
    [("/docs", 'class="opblock-summary-path"'), ("/redoc", "Liveness: the process answers")],
)
def test_a_browser_with_no_network_renders_the_operations_of_the_api(
    platform: Platform, page: str, drawn: str
) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    assert drawn not in httpx.get(f"{platform.url}{page}").text  # only the bundles' JavaScript draws it
    rendered = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, "--dump-dom", f"{platform.url}{page}"],
        capture_output=True, text=True, timeout=180, check=True,
    ).stdout  # fmt: skip
    assert "Hokusai platform API" in rendered
    assert drawn in rendered and "/api/v1/runs" in rendered
