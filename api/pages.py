"""The web pages: the citizen's wallet (``/wallet``), the venue scanner (``/scan``) and the
operator's dashboard (``/admin``).

Plain HTML, CSS and JavaScript from ``api/web/`` (no build step, nothing from another
origin). The pages only call the JSON API of the same service; this module serves:

- ``GET /``: the landing page (what this is; links to the wallet, the scanner and the
  OpenAPI document);
- ``GET /wallet``, ``GET /scan`` and ``GET /admin``: the pages, Chinese by default,
  English with ``?lang=en``. Each sets its own ``Content-Security-Policy`` (:data:`PAGE_CSP`:
  scripts, styles and images from this origin only, no inline script);
- ``GET /web/<file>``: the static files (CSS, JavaScript, icons). Links carry
  ``?v=<digest of the files>``; such a URL is immutable and cached for a year;
- ``GET /wallet.webmanifest``: the web app manifest (installable wallet);
- ``GET /wallet-sw.js``: the wallet's service worker (scope ``/wallet``): it keeps
  the page shell and the last card list for offline reading;
- ``GET /api/v1/scenes``: the scenes of the trust list with the names of the
  credential types they accept and the labels of the claims they show, in Chinese
  and English. Public; with a venue key, only that venue's scenes (the scanner
  page checks the key with it at log-in).

The user-facing texts of both pages live in ``api/web/strings.json`` (one source for
the templates and the scripts, which read them from a JSON data block).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from flask import Response, abort, current_app, render_template, request
from pydantic import BaseModel, Field, RootModel

from api.openapi import SECURITY_VENUE, APIBlueprint, Tag, problems
from api.principals import current_venue
from api.services import services
from issuer import UnknownCredentialType, load_catalogue
from issuer.catalogue import load_scene_categories
from keys import LocalizedName

__all__ = ["LANGUAGES", "PAGE_CSP", "SCAN_VERDICTS", "Verdict", "bp", "render_page", "strings"]

#: The Content-Security-Policy of the pages and of the service worker.
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; media-src 'self' blob:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The page languages; the first is the default.
LANGUAGES: Final = ("zh", "en")
#: Seconds a cache may keep ``/api/v1/scenes`` (as the trust list).
SCENES_MAX_AGE: Final = 60

#: What the scanner tells staff to do about a refused code (docs/web.md): ``retry``
#: (amber, "ask for a new code": the code, not the certificate, is the problem),
#: ``recheck`` (amber, "check again later": the verifier's own data is not current) or
#: ``refuse`` (red: the certificate itself must not be accepted). The page takes the
#: gravest class among a result's codes, and ``refuse`` for a code missing here.
Verdict = Literal["retry", "recheck", "refuse"]
SCAN_VERDICTS: Final[dict[str, Verdict]] = {
    "malformed": "retry",  # not a code of ours, or not read completely
    "presentation_expired": "retry",  # too old: the phone makes a new one
    "key_binding_invalid": "retry",  # made for another scene (``made_for``)
    "scene_unmet": "retry",  # another certificate, or not the fields this scene needs
    "status_unavailable": "recheck",
    "status_stale": "recheck",
    "trust_list_stale": "recheck",
    "unknown_key": "recheck",  # a key newer than the trust list the verifier holds
    "unsupported_alg": "refuse",
    "invalid_signature": "refuse",  # forged or altered
    "unknown_issuer": "refuse",
    "issuer_not_authorised": "refuse",
    "key_compromised": "refuse",
    "expired": "refuse",
    "not_yet_valid": "refuse",
    "revoked": "refuse",
    "suspended": "refuse",
    "key_binding_missing": "refuse",  # a copied credential, not a presentation
    "replayed": "refuse",  # a copy of a code already accepted
    "disclosure_invalid": "refuse",  # tampered fields
    "wrong_audience": "refuse",  # a proof (proof+jwt) made for another department
    "online_check_required": "retry",  # an offline check of a scene that needs a live one
    "link_mismatch": "refuse",  # a guardian's or carer's card of another person than the link's
    "set_malformed": "retry",  # a set presentation not read completely
    "set_member_missing": "retry",  # the holder shows the set with the missing certificate
    "set_holder_mismatch": "refuse",  # another person's certificate slipped into the set
}

WEB: Final = Path(__file__).resolve().parent / "web"
STATIC: Final = WEB / "static"
_IMMUTABLE = "public, max-age=31536000, immutable"

bp = APIBlueprint(
    "pages",
    __name__,
    template_folder="web/templates",
    abp_tags=[Tag(name="public", description="Signed documents for verifiers; no authentication.")],
)


# -- the pages -------------------------------------------------------------------------


@bp.route("/", methods=["GET"])
def landing_page() -> Response:
    """What this service is, with links to the wallet, the scanner and the API."""
    return render_page("landing.html", camera=False)


@bp.route("/wallet", methods=["GET"])
def wallet_page() -> Response:
    """The citizen's wallet."""
    return render_page("wallet.html", camera=False)


@bp.route("/scan", methods=["GET"])
def scan_page() -> Response:
    """The venue staff's scanner."""
    return render_page("scan.html", camera=True)


@bp.route("/admin", methods=["GET"])
def admin_page() -> Response:
    """The operator's dashboard (the figures of ``GET /api/v1/admin/stats``)."""
    return render_page("admin.html", camera=False)


@bp.route("/wallet.webmanifest", methods=["GET"])
def manifest() -> Response:
    """The web app manifest of the wallet, in the language of ``?lang=``."""
    lang = _language()
    t = strings()[lang]
    suffix = "" if lang == LANGUAGES[0] else f"?lang={lang}"
    document = {
        "id": "/wallet",
        "name": f"{t['app_name']} · {t['wallet_title']}",
        "short_name": t["app_short_name"],
        "description": t["app_description"],
        "lang": t["html_lang"],
        "start_url": f"/wallet{suffix}",
        "scope": "/wallet",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f3f5f9",
        "theme_color": "#0b4ea2",
        "icons": [
            {"src": asset_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": asset_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": asset_url("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = current_app.response_class(
        json.dumps(document, ensure_ascii=False), content_type="application/manifest+json"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/wallet-sw.js", methods=["GET"])
def service_worker() -> Response:
    """The wallet's service worker, with the current asset version and shell list."""
    response = current_app.response_class(
        _service_worker_source(), content_type="text/javascript; charset=utf-8"
    )
    # Browsers check for a new worker on every navigation when it is not cached.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["Service-Worker-Allowed"] = "/wallet"
    return response


@bp.route("/web/<path:filename>", methods=["GET"])
def static_file(filename: str) -> Response:
    """A file of ``api/web/static`` (404 for anything else), with an ETag."""
    if filename not in _asset_names():
        abort(404)
    body, etag = _asset(filename)
    media_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = current_app.response_class(body, mimetype=media_type)
    response.set_etag(etag)
    if request.args.get("v") == asset_version():
        response.headers["Cache-Control"] = _IMMUTABLE
    else:
        response.headers["Cache-Control"] = "no-cache"
    response.make_conditional(request)  # 304 on If-None-Match
    return response


# -- scenes for the pages (documented API) ---------------------------------------------


class SceneAccept(BaseModel):
    """A credential type a scene accepts and the claims it shows."""

    vct: str
    name: LocalizedName = Field(description="The credential type's name (catalogue).")
    claims: list[str] = Field(description="The claims shown, as in the trust list.")
    labels: dict[str, LocalizedName] = Field(description="Each claim's label (catalogue).")


class SceneCategory(BaseModel):
    """The programme's category of a scene (``issuer/data/scene_categories.json``)."""

    id: str
    name: LocalizedName


class Scene(BaseModel):
    """A scene of the trust list, with names and labels for people."""

    id: str
    name: LocalizedName
    accept: list[SceneAccept]
    max_age: int = Field(description="Seconds a presentation stays acceptable.")
    portrait: bool = Field(
        default=False,
        description="Staff must match the person against a portrait: an online QR "
        "code discloses it (`claims.portrait` of the result); an offline one never does.",
    )
    category: SceneCategory | None = Field(
        default=None,
        description="The programme's category of the scene (accommodation, medical…), by "
        "which the pages group their scene lists; null for a scene that names none.",
    )
    online: bool = Field(
        default=False,
        description="The scene needs a live status check: only an online code (or the "
        "service's own verification) is accepted; an offline verifier answers "
        "`online_check_required`.",
    )
    guardian: bool = Field(
        default=False,
        description="A guardian may present a ward's credential with the guardianship.",
    )
    carer: bool = Field(
        default=False,
        description="A carer the citizen authorised for this scene may present for them.",
    )
    all_of: list[SceneAccept] = Field(
        default_factory=list,
        description="Credential types that must all be presented together, in one set "
        "presentation (docs/formats.md), each with the claims it shows; empty when none.",
    )


class SceneList(RootModel[list[Scene]]):
    """The scenes, in trust-list order."""


@bp.get(
    "/api/v1/scenes",
    summary="The scenes, with type names and claim labels",
    security=[{}, *SECURITY_VENUE],
    responses={200: SceneList, **problems(403)},
)
def scenes() -> Response:
    """Every scene of the trust list: its id and name, the credential types it accepts
    with their names, the claims it shows with their labels (Chinese and English),
    and its `max_age`. For the wallet's preview ("which fields will be shown") and the
    scanner's labels.

    Without `Authorization`, public and cacheable. With a venue key, only the scenes
    that venue may verify for (`401` for a key that is not a valid venue key).
    """
    allowed: frozenset[str] | None = None
    if "Authorization" in request.headers:
        allowed = frozenset(current_venue().scenes)
    items = [_scene(scene) for scene in services().publication.scenes(allowed)]
    response = current_app.response_class(
        SceneList(items).model_dump_json(), content_type="application/json"
    )
    response.vary.add("Authorization")
    if allowed is None:
        response.headers["Cache-Control"] = f"public, max-age={SCENES_MAX_AGE}"
    return response


# -- helpers ---------------------------------------------------------------------------


@cache
def strings() -> dict[str, dict[str, Any]]:
    """The texts of the pages by language (``api/web/strings.json``)."""
    data: dict[str, dict[str, Any]] = json.loads((WEB / "strings.json").read_text("utf-8"))
    return data


@cache
def _asset_names() -> frozenset[str]:
    return frozenset(
        p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()
    )


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """A static file's bytes and ETag (the files are small: kept in memory)."""
    body = (STATIC / name).read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:32]


@cache
def asset_version() -> str:
    """A digest of every static file and of the texts: it changes with any of them."""
    digest = hashlib.sha256()
    for name in sorted(_asset_names()):
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(_asset(name)[0])
    digest.update((WEB / "strings.json").read_bytes())
    digest.update((WEB / "sw.js").read_bytes())
    for template in sorted((WEB / "templates").glob("*.html")):
        digest.update(template.read_bytes())
    return digest.hexdigest()[:16]


def asset_url(name: str) -> str:
    """The versioned URL of a static file."""
    return f"/web/{name}?v={asset_version()}"


def _shell() -> list[str]:
    """What the service worker caches when installed: enough to open the wallet offline."""
    assets = [
        "app.css",
        "common.js",
        "wallet.js",
        # The phone builds and draws its QR codes itself (offline): device.js, present.js
        # and the vendored libraries it needs.
        "device.js",
        "present.js",
        "vendor/pako_deflate.min.js",
        "vendor/qrcode.js",
        "icons/icon-192.png",
        "icons/icon-512.png",
    ]
    return [
        "/wallet",
        "/wallet?lang=en",
        "/wallet.webmanifest",
        "/wallet.webmanifest?lang=en",
        *(asset_url(a) for a in assets),
    ]


@cache
def _service_worker_source() -> str:
    source = (WEB / "sw.js").read_text("utf-8")
    return source.replace('"__VERSION__"', json.dumps(asset_version())).replace(
        '["__SHELL__"]', json.dumps(_shell())
    )


def _language() -> str:
    lang = request.args.get("lang", LANGUAGES[0])
    return lang if lang in LANGUAGES else LANGUAGES[0]


def render_page(template: str, *, camera: bool) -> Response:
    """A page of ``api/web/templates`` in the language of ``?lang=``, with the pages'
    headers (its own CSP, no-cache) and the texts (and the scanner's verdict table)
    handed to the scripts as a JSON data block."""
    lang = _language()
    t = strings()[lang]
    client = {**t, "lang": lang, "verdicts": SCAN_VERDICTS}
    html = render_template(
        template,
        t=t,
        lang=lang,
        other_href=f"?lang={t['other_lang']}",
        lang_query="" if lang == LANGUAGES[0] else f"?lang={lang}",
        asset=asset_url,
        client_strings=json.dumps(client, ensure_ascii=False).replace("<", "\\u003c"),
    )
    response = current_app.response_class(html, content_type="text/html; charset=utf-8")
    headers = response.headers
    headers["Content-Security-Policy"] = PAGE_CSP
    headers["Content-Language"] = t["html_lang"]
    headers["Cache-Control"] = "no-cache"
    headers["Permissions-Policy"] = (
        "camera=(self), microphone=(), geolocation=()"
        if camera
        else "camera=(), microphone=(), geolocation=()"
    )
    return response


def _scene(scene: Any) -> Scene:
    return Scene(
        id=scene["id"],
        name=LocalizedName(zh=scene["name"]["zh"], en=scene["name"]["en"]),
        accept=[_accept(entry) for entry in scene["accept"]],
        max_age=int(scene.get("max_age", 120)),
        portrait=bool(scene.get("portrait", False)),
        category=_category(scene.get("category")),
        online=bool(scene.get("online", False)),
        guardian=bool(scene.get("guardian", False)),
        carer=bool(scene.get("carer", False)),
        all_of=[_accept(entry) for entry in scene.get("all_of", [])],
    )


def _category(category_id: object) -> SceneCategory | None:
    """A scene's category with its names (its id as both names if not catalogued)."""
    if not isinstance(category_id, str):
        return None
    for category in load_scene_categories():
        if category.id == category_id:
            name = LocalizedName(zh=category.name.zh, en=category.name.en)
            return SceneCategory(id=category.id, name=name)
    return SceneCategory(id=category_id, name=LocalizedName(zh=category_id, en=category_id))


def _accept(entry: Any) -> SceneAccept:
    """An accept (or all_of) entry with the type's name and the claims' labels."""
    catalogue = load_catalogue()
    vct = entry["vct"]
    try:
        ctype = catalogue.get(vct)
    except UnknownCredentialType:
        name = LocalizedName(zh=vct, en=vct)
        labels = {c: LocalizedName(zh=c, en=c) for c in entry["claims"]}
    else:
        name = LocalizedName(zh=ctype.name.zh, en=ctype.name.en)
        labels = {}
        for claim in entry["claims"]:
            if ctype.has_claim(claim):
                label = ctype.claim(claim).label
                labels[claim] = LocalizedName(zh=label.zh, en=label.en)
            else:
                labels[claim] = LocalizedName(zh=claim, en=claim)
    return SceneAccept(vct=vct, name=name, claims=list(entry["claims"]), labels=labels)


# mimetypes of the static files that Python may not know on every system
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("text/javascript", ".js")
