"""The HTTP chassis: problem details, validation, security headers, CORS, metrics,
OpenAPI and request logs (issue 3, "Security defaults" and "HTTP interface").

The example blueprint below is the pattern every business endpoint follows
(see the docstring of :mod:`api.openapi`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from typing import Any

import pytest
from flask import Flask, Response, make_response
from flask.testing import FlaskClient
from flask_openapi3.openapi import OpenAPI
from openapi_spec_validator import validate
from pydantic import BaseModel, ConfigDict, Field, field_validator
from werkzeug.test import TestResponse

from api import create_app, metrics
from api.errors import PROBLEM_TYPE_BASE, RateLimited, problem
from api.openapi import SECURITY_CITIZEN, APIBlueprint, Tag, problems
from api.security import DEFAULT_CSP, bearer_token
from issuer.errors import ClaimsInvalid, NotAuthorised, UnknownCredentialType
from keys.errors import Conflict, EcertError, NotFound
from store.errors import StoreClosed
from store.interface import StoreUnavailable
from tests.hygiene import personal
from verifier.errors import VerificationError

# Values that must never come back in an answer or reach a log line.
NAME = personal("张三丰", "test_api_chassis NAME")
ID_NUMBER = personal("110101199003077838", "test_api_chassis ID_NUMBER")
TOKEN = personal(
    "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjaXRpemVuIn0.c2lnbmF0dXJlLXNlY3JldA", "test_api_chassis TOKEN"
)

# -- the example blueprint ---------------------------------------------------------------


class ItemPath(BaseModel):
    item_id: str = Field(pattern=r"^[a-z0-9]{1,16}$")


class Page(BaseModel):
    limit: int = Field(default=10, ge=1, le=100)


class CitizenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(pattern=r"^\d{17}[\dX]$")
    age: int = Field(ge=0)
    nickname: str | None = None

    @field_validator("nickname")
    @classmethod
    def _no_admin(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("admin"):
            # A careless message that quotes the input: must not be echoed.
            raise ValueError(f"nickname {value!r} is reserved")
        return value


class Item(BaseModel):
    id: str


example = APIBlueprint(
    "example",
    __name__,
    url_prefix="/api/v1/example",
    abp_tags=[Tag(name="example")],
    abp_security=SECURITY_CITIZEN,
)


@example.post("/items/<item_id>", responses={201: Item, **problems(404, 409)})
def create_item(path: ItemPath, body: CitizenBody) -> tuple[dict[str, str], int]:
    """Create an item (the example of a validated endpoint)."""
    bearer_token()
    if path.item_id == "taken":
        raise Conflict("The item exists.")
    return {"id": path.item_id}, 201


@example.get("/items/<item_id>", responses={200: Item, **problems(404)})
def read_item(path: ItemPath, query: Page) -> dict[str, str]:
    """Read an item."""
    if path.item_id == "missing":
        raise NotFound("No such item.")
    return {"id": path.item_id}


class SomeNewCheck(VerificationError):
    """A verification code nobody gave a status: its family's (400)."""

    code = "some_new_check"


class BrandNew(EcertError):
    """A code of no family: 500."""

    code = "brand_new"


class ItemLocked(Conflict):
    """A conflict with a public attribute, which the handler adds to the problem."""

    public = ("state",)

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.state = state


RAISED: dict[str, Exception] = {
    "store-down": StoreUnavailable("redis at 10.0.0.7:6379 refused the connection"),
    "store-closed": StoreClosed("the store at /srv/ecert/store.db is closed"),
    "rate-limited": RateLimited("Too many attempts.", retry_after=30),
    "not-authorised": NotAuthorised("police may not issue marriage certificates"),
    "unknown-vct": UnknownCredentialType("no such credential type"),
    "claims": ClaimsInvalid("the claim birth_date is missing", field="birth_date"),
    "verification": SomeNewCheck("odd presentation"),
    "unknown-code": BrandNew("something new"),
    "api-retry": RateLimited("Slow down.", retry_after=dt.timedelta(seconds=2.5)),
    "api-extra": ItemLocked("Locked.", state="suspended"),
}


class KindPath(BaseModel):
    kind: str


@example.get("/raise/<kind>", doc_ui=False)
def raise_(path: KindPath) -> None:
    raise RAISED[path.kind]


def make_app(**config: object) -> Flask:
    app = create_app({"TESTING": True, **config})
    assert isinstance(app, OpenAPI)  # create_app is typed as returning a plain Flask
    app.register_api(example)

    @app.route("/api/v1/boom")
    def boom() -> Response:
        raise RuntimeError(f"lookup of {ID_NUMBER} failed")

    @app.route("/api/v1/cached")
    def cached() -> Response:
        response = make_response({"public": True})
        response.headers["Cache-Control"] = "public, max-age=60"
        return response

    @app.route("/page")
    def page() -> Response:
        response = make_response("<!doctype html><p>hi</p>")
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        return response

    @app.route("/api/v1/teapot")
    def teapot() -> Response:
        return problem("conflict", "Already brewing.", state="brewing")

    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_problem(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = json.loads(response.get_data(as_text=True))
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_TYPE_BASE + code
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body


VALID = {"name": NAME, "id_number": ID_NUMBER, "age": 30}
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# -- errors ------------------------------------------------------------------------------


def test_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/no/such/thing"), 404, "not_found")


def test_wrong_method_is_a_405_problem_with_allow(client: FlaskClient) -> None:
    response = client.delete("/api/v1/example/items/abc")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


def test_oversize_body_is_a_413_problem(client: FlaskClient) -> None:
    body = b'{"name": "' + b"x" * (64 * 1024) + b'"}'
    response = client.post(
        "/api/v1/example/items/abc", data=body, content_type="application/json", headers=AUTH
    )
    assert_problem(response, 413, "too_large")


@pytest.mark.parametrize("size", [64 * 1024 - 10, 64 * 1024 + 1])
def test_chunked_body_is_capped_without_truncation(client: FlaskClient, size: int) -> None:
    body = (b'{"name": "' + b"x" * size)[:size] + b'"}'
    response = client.post(
        "/api/v1/example/items/abc",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"} | AUTH,
        environ_overrides={"wsgi.input_terminated": True},  # as a server that de-chunks
    )
    if len(body) > 64 * 1024:
        assert_problem(response, 413, "too_large")
    else:  # read whole: the schema, not the size, is what fails
        answer = assert_problem(response, 400, "invalid_request")
        assert {e["pointer"] for e in answer["errors"]} == {"#/id_number", "#/age", "#/name"}


def test_oversize_limit_follows_configuration() -> None:
    client = make_app(MAX_CONTENT_LENGTH=100).test_client()
    response = client.post("/api/v1/example/items/abc", json=VALID | {"name": "x" * 200})
    assert_problem(response, 413, "too_large")


def test_unexpected_exception_is_a_500_problem_without_details(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ecert"):
        response = client.get("/api/v1/boom")
    body = assert_problem(response, 500, "internal")
    text = response.get_data(as_text=True)
    assert ID_NUMBER not in text and "RuntimeError" not in text
    # The operator learns where it broke, not what the message said.
    assert "RuntimeError" in caplog.text and "test_api_chassis.py" in caplog.text
    assert ID_NUMBER not in caplog.text
    assert body["detail"] == "The server could not complete the request."


def test_store_unavailable_is_503_with_retry_after_and_no_internals(client: FlaskClient) -> None:
    response = client.get("/api/v1/example/raise/store-down")
    body = assert_problem(response, 503, "store_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "10.0.0.7" not in response.get_data(as_text=True)
    assert "retry" in body["detail"].lower()


def test_retry_after_for_503_follows_configuration() -> None:
    client = make_app(RETRY_AFTER=17).test_client()
    response = client.get("/api/v1/example/raise/store-down")
    assert response.headers["Retry-After"] == "17"


def test_other_store_errors_are_500_without_their_message(client: FlaskClient) -> None:
    response = client.get("/api/v1/example/raise/store-closed")
    assert_problem(response, 500, "store_closed")
    assert "/srv/ecert" not in response.get_data(as_text=True)


def test_rate_limited_domain_error_is_429_with_its_retry_after(client: FlaskClient) -> None:
    response = client.get("/api/v1/example/raise/rate-limited")
    assert_problem(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "30"


def test_api_error_retry_after_is_rounded_up(client: FlaskClient) -> None:
    response = client.get("/api/v1/example/raise/api-retry")
    assert_problem(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "3"


@pytest.mark.parametrize(
    ("kind", "status", "code", "detail"),
    [
        ("not-authorised", 403, "issuer_not_authorised", "police may not issue marriage"),
        ("unknown-vct", 400, "unknown_vct", "no such credential type"),
        ("claims", 400, "claims_invalid", "the claim birth_date is missing"),
        ("verification", 400, "some_new_check", "odd presentation"),
        ("unknown-code", 500, "brand_new", "The server could not complete the request."),
    ],
)
def test_domain_errors_map_by_class(
    client: FlaskClient, kind: str, status: int, code: str, detail: str
) -> None:
    body = assert_problem(client.get(f"/api/v1/example/raise/{kind}"), status, code)
    assert body["detail"].startswith(detail)
    # Only the problem members and the class's public attributes (ClaimsInvalid.field).
    public = {"field": "birth_date"} if kind == "claims" else {}
    assert set(body) == {"type", "title", "status", "detail", "code", *public}
    assert {name: body[name] for name in public} == public


def test_public_attributes_become_members_and_view_conflict(client: FlaskClient) -> None:
    body = assert_problem(client.get("/api/v1/example/raise/api-extra"), 409, "conflict")
    assert body["state"] == "suspended"
    response = client.post("/api/v1/example/items/taken", json=VALID, headers=AUTH)
    assert_problem(response, 409, "conflict")


def test_problem_helper_for_views(client: FlaskClient) -> None:
    body = assert_problem(client.get("/api/v1/teapot"), 409, "conflict")
    assert body["state"] == "brewing" and body["detail"] == "Already brewing."


def test_missing_or_wrong_bearer_is_401_with_www_authenticate(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = client.post("/api/v1/example/items/abc", json=VALID, headers=headers)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_not_found_raised_by_a_view(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/example/items/missing"), 404, "not_found")


# -- validation --------------------------------------------------------------------------


def test_valid_request_reaches_the_view(client: FlaskClient) -> None:
    response = client.post("/api/v1/example/items/abc", json=VALID, headers=AUTH)
    assert response.status_code == 201
    assert response.get_json() == {"id": "abc"}


def test_body_validation_lists_fields_and_never_the_values(client: FlaskClient) -> None:
    submitted = {
        "name": NAME,
        "id_number": ID_NUMBER + "9",
        "age": "sixty-one",
        "nickname": f"admin-{NAME}",
        "secret_extra": "家庭住址",
    }
    response = client.post("/api/v1/example/items/abc", json=submitted, headers=AUTH)
    body = assert_problem(response, 400, "invalid_request")
    pointers = {e["pointer"] for e in body["errors"]}
    assert pointers == {"#/id_number", "#/age", "#/nickname", "#/secret_extra"}
    assert {e["in"] for e in body["errors"]} == {"body"}
    assert all(e["code"] and e["detail"] for e in body["errors"])
    text = response.get_data(as_text=True)
    for value in (NAME, ID_NUMBER, "sixty-one", "家庭住址", "admin-"):
        assert value not in text
        assert json.dumps(value)[1:-1] not in text  # not even \\u-escaped


def test_missing_fields_are_listed(client: FlaskClient) -> None:
    response = client.post("/api/v1/example/items/abc", json={}, headers=AUTH)
    body = assert_problem(response, 400, "invalid_request")
    assert {(e["pointer"], e["code"]) for e in body["errors"]} == {
        ("#/name", "missing"),
        ("#/id_number", "missing"),
        ("#/age", "missing"),
    }


def test_non_json_and_broken_json_bodies(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/example/items/abc", data=f"name={NAME}", content_type="text/plain"
    )
    body = assert_problem(response, 400, "invalid_request")
    assert "JSON" in body["detail"] and NAME not in response.get_data(as_text=True)
    response = client.post(
        "/api/v1/example/items/abc", data='{"name": "', content_type="application/json"
    )
    body = assert_problem(response, 400, "invalid_request")
    assert body["detail"] == "The body is not valid JSON."


def test_path_and_query_validation(client: FlaskClient) -> None:
    body = assert_problem(client.get("/api/v1/example/items/NOT-OK"), 400, "invalid_request")
    assert body["errors"][0]["in"] == "path" and body["errors"][0]["pointer"] == "#/item_id"
    assert "NOT-OK" not in json.dumps(body)
    response = client.get("/api/v1/example/items/abc?limit=many")
    body = assert_problem(response, 400, "invalid_request")
    assert body["errors"][0]["in"] == "query" and body["errors"][0]["pointer"] == "#/limit"
    assert "many" not in response.get_data(as_text=True)


# -- security headers --------------------------------------------------------------------

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/example/items/abc", 200),
        ("GET", "/api/v1/nothing", 404),
        ("GET", "/api/v1/boom", 500),
        ("POST", "/api/v1/example/items/abc", 400),
        ("GET", "/api/v1/example/raise/store-down", 503),
        ("GET", "/metrics", 200),
        ("GET", "/openapi.json", 200),
    ],
)
def test_security_headers_on_every_response(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "Strict-Transport-Security" not in response.headers
    if path.startswith("/api/v1/"):
        assert response.headers["Cache-Control"] == "no-store"


def test_views_keep_their_own_cache_control_and_csp(client: FlaskClient) -> None:
    assert client.get("/api/v1/cached").headers["Cache-Control"] == "public, max-age=60"
    page = client.get("/page")
    assert page.headers["Content-Security-Policy"] == "default-src 'self'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cache-Control" not in client.get("/healthz").headers


def test_hsts_only_over_https(client: FlaskClient) -> None:
    secure = client.get("/healthz", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    error = client.get("/api/v1/nothing", base_url="https://localhost")
    assert "Strict-Transport-Security" in error.headers
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_forwarded_proto_is_trusted_only_behind_a_configured_proxy() -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    direct = make_app().test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers
    proxied = make_app(TRUST_PROXY=1).test_client().get("/healthz", headers=forwarded)
    assert "Strict-Transport-Security" in proxied.headers


def test_unusable_security_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="TRUST_PROXY"):
        create_app({"TRUST_PROXY": -1})
    with pytest.raises(ValueError, match="HSTS_MAX_AGE"):
        create_app({"HSTS_MAX_AGE": "a year"})


# -- CORS --------------------------------------------------------------------------------


def test_no_cors_headers_by_default(client: FlaskClient) -> None:
    response = client.get("/api/v1/example/items/abc", headers={"Origin": "https://x.example"})
    assert not [k for k, _ in response.headers.items() if k.startswith("Access-Control-")]
    assert "Origin" not in response.headers.get("Vary", "")
    preflight = client.options(
        "/api/v1/example/items/abc",
        headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_cors_for_configured_origins_on_api_paths_only() -> None:
    client = make_app(CORS_ORIGINS=["https://wallet.example/"]).test_client()
    allowed = {"Origin": "https://wallet.example"}
    response = client.get("/api/v1/example/items/abc", headers=allowed)
    assert response.headers["Access-Control-Allow-Origin"] == "https://wallet.example"
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]

    other = client.get("/api/v1/example/items/abc", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]

    assert "Access-Control-Allow-Origin" not in client.get("/metrics", headers=allowed).headers

    preflight = client.options(
        "/api/v1/example/items/abc",
        headers=allowed
        | {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECERT_CORS_ORIGINS", "https://a.example, https://b.example")
    client = make_app().test_client()
    for origin in ("https://a.example", "https://b.example"):
        response = client.get("/api/v1/example/items/abc", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin


def test_cors_wildcard() -> None:
    client = make_app(CORS_ORIGINS="*").test_client()
    response = client.get("/api/v1/example/items/abc", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# -- metrics -----------------------------------------------------------------------------


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=" in response.headers["Content-Type"]
    return response.get_data(as_text=True)


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_requests_are_counted_by_rule_not_path(client: FlaskClient) -> None:
    client.get("/api/v1/example/items/abc123")
    client.get("/api/v1/example/items/def456")
    client.get("/api/v1/no/such/route/xyz789")
    text = scrape(client)
    rule = "/api/v1/example/items/<item_id>"
    assert sample(text, "ecert_http_requests_total", endpoint=rule, method="GET", status="200") == 2
    assert (
        sample(
            text, "ecert_http_requests_total", endpoint="<unmatched>", method="GET", status="404"
        )
        == 1
    )
    assert (
        sample(text, "ecert_http_request_duration_seconds_count", endpoint=rule, method="GET") == 2
    )
    for raw in ("abc123", "def456", "xyz789"):
        assert raw not in text


def test_odd_methods_share_one_label(client: FlaskClient) -> None:
    client.open("/healthz", method="BREW")
    assert 'method="other"' in scrape(client)
    assert "BREW" not in scrape(client)


def test_domain_counters_and_per_app_registries() -> None:
    first, second = make_app(), make_app()
    with first.app_context():
        metrics.count("ecert_verifications_total", result="invalid", code="revoked")
        metrics.count("ecert_verifications_total", result="invalid", code="revoked")
        metrics.count("ecert_credentials_issued_total", issuer="police")
        with pytest.raises(KeyError, match="undeclared"):
            metrics.count("ecert_nothing_total")
    text = scrape(first.test_client())
    assert sample(text, "ecert_verifications_total", result="invalid", code="revoked") == 2
    assert sample(text, "ecert_credentials_issued_total", issuer="police") == 1
    other = scrape(second.test_client())
    assert sample(other, "ecert_verifications_total", result="invalid", code="revoked") == 0
    assert "# TYPE ecert_verifications_total counter" in other


# -- OpenAPI -----------------------------------------------------------------------------


def test_openapi_document_is_valid_3_1(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_openapi_declares_schemes_problem_and_the_example(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"departmentKey", "venueKey", "citizenToken", "operatorKey"}
    assert all(s == {**s, "type": "http", "scheme": "bearer"} for s in schemes.values())
    problem_schema = document["components"]["schemas"]["Problem"]
    assert set(problem_schema["required"]) == {"type", "title", "status", "detail", "code"}

    operation = document["paths"]["/api/v1/example/items/{item_id}"]["post"]
    assert operation["security"] == [{"citizenToken": []}]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.endswith("/CitizenBody")
    assert set(operation["responses"]) == {"201", "400", "401", "404", "409", "413", "default"}
    for status, response in operation["responses"].items():
        if status != "201":
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]

    # Nothing to validate, nothing to document as 400; every operation has "default".
    health = document["paths"]["/healthz"]["get"]["responses"]
    assert "400" not in health and "default" in health
    assert "/api/v1/example/raise/{kind}" not in document["paths"]  # doc_ui=False


def test_problems_refuses_success_statuses() -> None:
    with pytest.raises(ValueError):
        problems(200)


# -- logs --------------------------------------------------------------------------------


def test_one_log_line_per_request_without_personal_data(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ecert"):
        ok = client.post(f"/api/v1/example/items/abc?citizen={ID_NUMBER}", json=VALID, headers=AUTH)
        bad = client.post("/api/v1/example/items/abc", json=VALID | {"age": NAME}, headers=AUTH)
        client.get("/api/v1/example/raise/claims", headers=AUTH)
        client.get("/api/v1/example/raise/store-down", headers=AUTH)
    assert ok.status_code == 201 and bad.status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("request ")]
    assert len(lines) == 4
    assert f"request_id={ok.headers['X-Request-Id']}" in lines[0]
    assert "method=POST rule=/api/v1/example/items/<item_id> status=201" in lines[0]
    text = caplog.text
    for secret in (TOKEN, ID_NUMBER, NAME, "citizen=", "Bearer", "birth_date", "10.0.0.7"):
        assert secret not in text


def test_request_id_from_a_trusted_proxy_only() -> None:
    headers = {"X-Request-Id": "proxy-id-123"}
    direct = make_app().test_client().get("/healthz", headers=headers)
    assert direct.headers["X-Request-Id"] != "proxy-id-123"
    proxied = make_app(TRUST_PROXY=1).test_client()
    assert proxied.get("/healthz", headers=headers).headers["X-Request-Id"] == "proxy-id-123"
    forged = proxied.get("/healthz", headers={"X-Request-Id": "a b status=200 x"})
    assert re.fullmatch(r"[0-9a-f]{16}", forged.headers["X-Request-Id"])


def test_logging_leaves_the_root_logger_alone() -> None:
    root = logging.getLogger()
    before = list(root.handlers), root.level
    make_app()
    assert (list(root.handlers), root.level) == before
