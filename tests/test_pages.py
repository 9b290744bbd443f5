"""The web pages' server side (Flask test client, fast): /wallet and /scan in both
languages, their headers (CSP above all), the manifest, the service worker, the static
files, and ``GET /api/v1/scenes``. The pages in a real browser: tests/test_browser.py."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from api import create_app
from api.pages import LANGUAGES, PAGE_CSP, STATIC, WEB, asset_version, strings
from cli.seed import DemoLogins, seed_demo
from keys import generate_secret
from tests.api_helpers import FAST_HASHER, bearer, services_of
from verifier.errors import ERROR_CODES

PAGES = ("/wallet", "/scan", "/admin")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    built = create_app(
        {
            "TESTING": True,
            "INSTANCE": str(tmp_path / "instance"),
            "KEY_SECRET": generate_secret(),
            "BASE_URL": "https://ecert.test",
            "PASSWORD_HASHER_PARAMS": FAST_HASHER,
        }
    )
    try:
        yield built
    finally:
        services_of(built).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def demo(app: Flask) -> DemoLogins:
    svc = services_of(app)
    return seed_demo(svc.instance, svc.accounts)


class Page(HTMLParser):
    """What the tests look at in a page: scripts, links, labels, ids, text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.lang = ""
        self.scripts: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.labels: dict[str, str] = {}  # for= -> text
        self.ids: set[str] = set()
        self.style_attributes = 0
        self.inline_handlers: list[str] = []
        self.data_block = ""
        self._label_for: str | None = None
        self._label_text: list[str] = []
        self._in_data_block = False
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang") or ""
        if tag == "script":
            self.scripts.append(a)
            self._in_data_block = a.get("type") == "application/json"
        for name in ("src", "href"):
            if a.get(name):
                self.urls.append(str(a[name]))
        if tag == "label":
            self._label_for = a.get("for")
            self._label_text = []
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if "style" in a:
            self.style_attributes += 1
        self.inline_handlers += [k for k in a if k.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label_for:
            self.labels[self._label_for] = "".join(self._label_text).strip()
            self._label_for = None
        if tag == "script":
            self._in_data_block = False

    def handle_data(self, data: str) -> None:
        if self._in_data_block:
            self.data_block += data
            return
        if self._label_for is not None:
            self._label_text.append(data)
        self.text.append(data)


def _page(client: FlaskClient, path: str) -> tuple[Any, Page]:
    response = client.get(path)
    assert response.status_code == 200, path
    return response, Page(response.get_data(as_text=True))


# -- the pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "html_lang", "labels"),
    [
        ("", "zh-CN", {"citizen-id": "公民身份号码", "password": "密码"}),
        ("?lang=zh", "zh-CN", {"citizen-id": "公民身份号码", "password": "密码"}),
        ("?lang=en", "en", {"citizen-id": "Citizen ID", "password": "Password"}),
        ("?lang=fr", "zh-CN", {"citizen-id": "公民身份号码", "password": "密码"}),
    ],
)
def test_the_wallet_renders_in_its_language(
    client: FlaskClient, query: str, html_lang: str, labels: dict[str, str]
) -> None:
    response, page = _page(client, "/wallet" + query)
    assert page.lang == html_lang
    assert response.headers["Content-Language"] == html_lang
    for field, label in labels.items():
        assert page.labels[field] == label
    assert page.labels["scene"] == ("Scene" if html_lang == "en" else "使用场景")
    assert page.labels["online-qr"] == ("Online QR" if html_lang == "en" else "在线二维码")
    text = " ".join(page.text)
    assert ("Log in" in text) == (html_lang == "en")
    assert ("Show QR" in text) == (html_lang == "en")
    assert ("登录" in text) == (html_lang != "en")
    # The other language is one visible link away.
    other = "zh" if html_lang == "en" else "en"
    assert f"?lang={other}" in page.urls
    # The scripts get the same texts as the server used.
    data = json.loads(page.data_block)
    assert data["lang"] == ("en" if html_lang == "en" else "zh")
    assert data["log_in"] == ("Log in" if html_lang == "en" else "登录")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_scanner_renders_in_its_language(client: FlaskClient, lang: str) -> None:
    _, page = _page(client, f"/scan?lang={lang}")
    expected = {
        "en": {"venue-key": "Venue key", "scene": "Scene", "qr-text": "QR content"},
        "zh": {"venue-key": "场所密钥", "scene": "使用场景", "qr-text": "二维码内容"},
    }[lang]
    for field, label in expected.items():
        assert page.labels[field] == label
    # The result region is always in the page, so that screen readers announce it.
    assert "result" in page.ids


@pytest.mark.parametrize("path", PAGES)
def test_pages_set_their_own_strict_csp(client: FlaskClient, path: str) -> None:
    response, _ = _page(client, path)
    headers = response.headers
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == PAGE_CSP
    directives = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' blob: data:"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in PAGE_CSP
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-cache"
    camera = "camera=(self)" if path == "/scan" else "camera=()"
    assert camera in headers["Permissions-Policy"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_code_and_nothing_from_elsewhere(
    client: FlaskClient, path: str
) -> None:
    _, page = _page(client, path + "?lang=en")
    for script in page.scripts:
        # A script is a file of ours, or a JSON data block (never executed).
        assert script.get("src") or script.get("type") == "application/json", script
    assert page.style_attributes == 0
    assert page.inline_handlers == []
    for url in page.urls:
        assert not re.match(r"^[a-z]+:|^//", url), url
    # Every file the page links to is served.
    for url in page.urls:
        if url.startswith("/"):
            assert client.get(url).status_code == 200, url


def test_the_data_block_cannot_end_the_script_early(app: Flask) -> None:
    with app.test_request_context("/wallet"):
        from api.pages import render_page as render

        html = render("wallet.html", camera=False).get_data(as_text=True)
    block = html.split('<script type="application/json" id="strings">', 1)[1]
    assert "</" not in block.split("</script>", 1)[0]


def test_pages_answer_get_only(client: FlaskClient) -> None:
    # With scripts off the forms would post here: no data is taken, nothing is echoed.
    response = client.post("/wallet", data={"citizen_id": "1", "password": "secret"})
    assert response.status_code == 405
    assert b"secret" not in response.get_data()


# -- texts -----------------------------------------------------------------------------------


def test_both_languages_have_every_text() -> None:
    texts = strings()
    assert set(texts) == set(LANGUAGES)
    assert set(texts["zh"]) == set(texts["en"])
    for lang in LANGUAGES:
        for key, value in texts[lang].items():
            assert value, (lang, key)


def test_every_error_code_has_a_reason_and_an_action_in_both_languages() -> None:
    for lang in LANGUAGES:
        codes = strings()[lang]["codes"]
        assert set(codes) == set(ERROR_CODES), lang
        # wrong_audience: a proof+jwt made for another department; online_check_required:
        # an offline check of a scene that needs a live one; link_mismatch (guardians and
        # carers); the three set_* codes (sets)
        assert len(codes) == 26
        for code, (reason, action) in codes.items():
            assert reason and action, (lang, code)


def test_card_names_come_from_the_catalogue() -> None:
    # The wallet names each card button by its type's name in the catalogue.
    catalogue = json.loads(
        (Path(__file__).resolve().parent.parent / "issuer/data/catalogue.json").read_text(
            encoding="utf-8"
        )
    )
    names = {t["vct"]: t["name"] for t in catalogue}
    assert names["urn:ecert:resident-id-card"]["en"] == "Resident ID card"


# -- installable: manifest, icons, service worker ------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_manifest_makes_the_wallet_installable(client: FlaskClient, lang: str) -> None:
    response = client.get(f"/wallet.webmanifest?lang={lang}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.get_data(as_text=True))
    assert manifest["start_url"].startswith("/wallet")
    assert manifest["scope"] == "/wallet"
    assert manifest["display"] == "standalone"
    assert manifest["name"] and manifest["short_name"]
    assert manifest["lang"] == ("en" if lang == "en" else "zh-CN")
    sizes = set()
    for icon in manifest["icons"]:
        answer = client.get(icon["src"])
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "image/png"
        with Image.open(io.BytesIO(answer.get_data())) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes
    assert any(i.get("purpose") == "maskable" for i in manifest["icons"])


def test_the_service_worker_is_served_with_its_scope_and_shell(client: FlaskClient) -> None:
    response = client.get("/wallet-sw.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Cache-Control"] == "no-cache"
    # A worker gets its own CSP: the default one would forbid its fetches.
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    source = response.get_data(as_text=True)
    assert "__VERSION__" not in source and "__SHELL__" not in source
    assert json.dumps(asset_version()) in source
    found = re.search(r"var SHELL = (\[.*?\]);", source)
    assert found is not None, "no SHELL list in the service worker"
    shell = json.loads(found.group(1))
    assert "/wallet" in shell and "/wallet?lang=en" in shell
    for url in shell:
        assert client.get(url).status_code == 200, url
    # The page registers it for the wallet's scope.
    wallet_js = (STATIC / "wallet.js").read_text(encoding="utf-8")
    assert 'register("/wallet-sw.js", { scope: "/wallet" })' in wallet_js


def test_static_files_are_cached_by_version(client: FlaskClient) -> None:
    versioned = client.get(f"/web/app.css?v={asset_version()}")
    assert versioned.status_code == 200
    assert versioned.headers["Content-Type"].startswith("text/css")
    assert "immutable" in versioned.headers["Cache-Control"]
    plain = client.get("/web/app.css")
    assert plain.headers["Cache-Control"] == "no-cache"
    again = client.get("/web/app.css", headers={"If-None-Match": versioned.headers["ETag"]})
    assert again.status_code == 304
    script = client.get("/web/wallet.js")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/web/nothing.css", "/web/../pages.py", "/web/..%2fpages.py", "/web/", "/web/icons"]
)
def test_only_the_static_files_are_served(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_the_web_files_ship_with_the_package() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8")
    assert 'api = ["web/**/*"]' in pyproject
    for name in ("strings.json", "sw.js", "templates/wallet.html", "templates/scan.html"):
        assert (WEB / name).is_file(), name


# -- GET /api/v1/scenes --------------------------------------------------------------------------


def test_scenes_are_public_with_names_and_labels(client: FlaskClient) -> None:
    response = client.get("/api/v1/scenes")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "Authorization" in response.headers["Vary"]
    scenes = {s["id"]: s for s in response.get_json()}
    hotel = scenes["hotel"]
    assert hotel["name"] == {"zh": "旅馆住宿登记", "en": "Hotel check-in"}
    assert hotel["max_age"] == 120
    card = next(a for a in hotel["accept"] if a["vct"] == "urn:ecert:resident-id-card")
    assert card["name"]["en"] == "Resident ID card"
    assert card["claims"] == ["name", "id_number"]
    assert card["labels"] == {
        "name": {"zh": "姓名", "en": "Name"},
        "id_number": {"zh": "公民身份号码", "en": "Citizen ID number"},
    }
    assert set(scenes) >= {"hotel", "bank", "hospital"}


def test_scenes_with_a_venue_key_are_that_venues(client: FlaskClient, demo: DemoLogins) -> None:
    hotel_key = next(v["api_key"] for v in demo["venues"] if v["id"] == "grand-hotel")
    response = client.get("/api/v1/scenes", headers=bearer(hotel_key))
    assert response.status_code == 200
    assert [s["id"] for s in response.get_json()] == ["hotel"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("header", ["Bearer ek_not_a_key", "Bearer", "Basic abc"])
def test_scenes_with_a_bad_key_are_401(
    client: FlaskClient, demo: DemoLogins, header: str
) -> None:
    response = client.get("/api/v1/scenes", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"


def test_scenes_are_documented_and_the_pages_are_not(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/scenes"]
    for path in ("/wallet", "/scan", "/wallet-sw.js", "/wallet.webmanifest"):
        assert path not in paths
    assert not any(p.startswith("/web/") for p in paths)
