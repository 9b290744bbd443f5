"""OpenID4VCI 1.0 against an independent wallet: the openid4vc TypeScript client.

``ecert serve --demo`` runs as a real HTTP server (gunicorn, as in the browser tests);
interop/ts/oid4vci_wallet.mjs drives ``@openid4vc/openid4vci``'s ``Openid4vciClient``
(with ``@openid4vc/oauth2``'s anonymous client authentication) through the
pre-authorized code flow: it resolves the offer link a department got, fetches our
issuer metadata, redeems the code with the transaction code, gets a ``c_nonce``, makes
the key proof with its own Node key and receives the credential. Then
``@sd-jwt/sd-jwt-vc`` verifies the credential (issuer key from our SD-JWT VC issuer
metadata, status from the list we publish) and presents it, and our own
:class:`verifier.Verifier` verifies that presentation with the published bundle.

The refusals go through the same library: a wrong transaction code, a reused
pre-authorized code, a burnt offer, a key proof with a wrong nonce, a wrong audience or
another key type: each answered with the spec's error code, as the library reports it.
An expired offer needs the service's clock moved: that one case runs the app in this
process behind werkzeug's threaded HTTP server (a real socket too), the clock of its
OpenID4VCI use case set eleven minutes ahead.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from werkzeug.serving import make_server

from api import create_app
from cli.seed import seed_demo
from keys import generate_secret
from tests.api_helpers import FAST_HASHER, ID_CARD, ID_CLAIMS, services_of
from tests.browser_helpers import Service, running_service
from tests.conftest import free_port
from tests.hygiene import personal, personal_demo
from tests.interop_helpers import HOTEL_CLAIMS
from tests.test_interop_ts import Node
from verifier import Verifier

pytestmark = pytest.mark.slow


class Served(Protocol):
    """A running service: its base URL and its demo logins (:class:`Service` is one)."""

    base: str
    demo: dict[str, Any]

    def citizen(self, index: int = 0) -> dict[str, str]: ...


@dataclass
class LocalService:
    """The app served from this process (see :func:`local_service`)."""

    base: str
    demo: dict[str, Any]

    def citizen(self, index: int = 0) -> dict[str, str]:
        return dict(self.demo["citizens"][index])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("oid4vci")) as running:
        yield running


@pytest.fixture(scope="module")
def wallet() -> Iterator[Node]:
    runner = Node("oid4vci_wallet.mjs")
    yield runner
    runner.close()


def _http(
    service: Served, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        service.base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode("utf-8"),
        headers={
            **({"Content-Type": "application/json"} if body is not None else {}),
            **({"Authorization": f"Bearer {key}"} if key else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _police(service: Served) -> str:
    return str(next(d["api_key"] for d in service.demo["departments"] if d["issuer"] == "police"))


def _offer(service: Served) -> dict[str, Any]:
    citizen = service.citizen(0)["citizen_id"]
    status, body = _http(
        service,
        "POST",
        "/api/v1/issuers/police/offers",
        {"citizen_id": citizen, "vct": ID_CARD, "claims": ID_CLAIMS},
        key=_police(service),
    )
    assert status == 201, body
    return dict(body)


def _refused(answer: dict[str, Any], status: int, error: str) -> dict[str, Any]:
    """The library reports the issuer's refusal: its HTTP status and OAuth error body."""
    assert not answer["ok"], answer
    refused = answer.get("refused")
    assert refused is not None, answer["error"]
    assert refused["status"] == status and refused["body"]["error"] == error, refused
    body: dict[str, Any] = refused["body"]
    return body


def _issuer_jwk(service: Served, credential: str) -> dict[str, Any]:
    import base64

    head = credential.split(".")[0]
    kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    _, meta = _http(service, "GET", "/.well-known/jwt-vc-issuer/issuers/police")
    (jwk,) = [k for k in meta["jwks"]["keys"] if k["kid"] == kid]
    return dict(jwk)


# -- the flow ----------------------------------------------------------------------------


def test_an_independent_wallet_receives_verifies_and_presents_our_credential(
    service: Service, wallet: Node
) -> None:
    made = _offer(service)
    answer = wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"])
    assert answer["ok"], answer.get("error")
    assert answer["configuration_id"] == "resident-id-card"
    assert answer["configuration"]["format"] == "dc+sd-jwt"
    assert answer["token_type"] == "Bearer"
    (credential,) = answer["credentials"]

    # @sd-jwt/sd-jwt-vc verifies it, with the status list we publish
    checked = wallet("verify", credential=credential, issuer_jwk=_issuer_jwk(service, credential))
    assert checked["ok"], checked.get("error")
    claims = checked["claims"]
    assert claims["vct"] == ID_CARD and claims["iss"] == service.base + "/issuers/police"
    assert claims["cnf"]["jwk"] == answer["holder_jwk"]  # bound to the wallet's own key
    assert claims["name"] == ID_CLAIMS["name"]
    assert checked["status"] == 0

    # the wallet presents it for the hotel; our Verifier verifies it with the bundle
    now = int(time.time())
    presented = wallet(
        "present",
        credential=credential,
        holder_private_jwk=answer["holder_private_jwk"],
        disclose=list(HOTEL_CLAIMS),
        aud="hotel",
        nonce="n-oid4vci-interop",
        iat=now,
    )
    assert presented["ok"], presented.get("error")
    _, bundle = _http(service, "GET", "/api/v1/verifier/bundle")
    _, anchor = _http(service, "GET", "/api/v1/verifier/anchor")
    result = Verifier(bundle, anchor=anchor).verify(presented["presentation"], "hotel")
    assert result.valid, result.errors
    assert result.claims == {name: ID_CLAIMS[name] for name in HOTEL_CLAIMS}

    # the department sees the offer issued and revokes the credential like any other
    key = _police(service)
    _, state = _http(service, "GET", f"/api/v1/issuers/police/offers/{made['id']}", key=key)
    assert state["state"] == "issued"
    status, _ = _http(
        service,
        "POST",
        f"/api/v1/issuers/police/credentials/{state['credential_id']}/revoke",
        key=key,
    )
    assert status == 200
    checked = wallet("verify", credential=credential, issuer_jwk=_issuer_jwk(service, credential))
    assert checked["ok"] and checked["status"] == 1  # the library reads the revocation


# -- refusals, as the library reports them -----------------------------------------------


def test_a_wrong_tx_code_is_invalid_grant(service: Service, wallet: Node) -> None:
    made = _offer(service)
    wrong = f"{(int(made['tx_code']) + 1) % 1_000_000:06d}"
    body = _refused(
        wallet("receive", offer_uri=made["offer_uri"], tx_code=wrong), 400, "invalid_grant"
    )
    assert body["code"] == "oid4vci_tx_code_wrong"
    # the right code still works (a wrong try spends one of five)
    assert wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"])["ok"]


def test_a_reused_pre_authorized_code_is_invalid_grant(service: Service, wallet: Node) -> None:
    made = _offer(service)
    first = wallet(
        "receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"], stop_after_token=True
    )
    assert first["ok"], first.get("error")
    body = _refused(
        wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"]),
        400,
        "invalid_grant",
    )
    assert body["code"] == "oid4vci_offer_used"


def test_a_burnt_offer_is_invalid_grant(service: Service, wallet: Node) -> None:
    made = _offer(service)
    wrong = f"{(int(made['tx_code']) + 1) % 1_000_000:06d}"
    for _ in range(5):
        wallet("receive", offer_uri=made["offer_uri"], tx_code=wrong)
    body = _refused(
        wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"]),
        400,
        "invalid_grant",
    )
    assert body["code"] == "oid4vci_offer_burnt"


@pytest.mark.parametrize(
    ("tamper", "error", "cause"),
    [
        ({"nonce": "bm90LWEtbm9uY2Utb2YtdGhlLWlzc3Vlcg"}, "invalid_nonce", None),
        ({"aud": "https://another-issuer.example"}, "invalid_proof", "device_proof_audience"),
        ({"key_type": "ed25519"}, "invalid_proof", "device_proof_invalid"),
    ],
    ids=["wrong-nonce", "wrong-aud", "another-key-type"],
)
def test_a_bad_key_proof_is_refused_with_the_spec_code(
    service: Service, wallet: Node, tamper: dict[str, str], error: str, cause: str | None
) -> None:
    made = _offer(service)
    answer = wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"], tamper=tamper)
    body = _refused(answer, 400, error)
    assert body.get("cause") == cause
    # the offer's credential was not issued: the department still sees it redeemed only
    _, state = _http(
        service, "GET", f"/api/v1/issuers/police/offers/{made['id']}", key=_police(service)
    )
    assert state["state"] == "redeemed"


# -- an expired offer: the app in this process, its clock moved --------------------------


@pytest.fixture
def local_service(tmp_path: Path) -> Iterator[tuple[LocalService, Any]]:
    """The app behind werkzeug's threaded server on 127.0.0.1, with the demo seeded."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(
        {
            "INSTANCE": str(tmp_path / "instance"),
            "KEY_SECRET": personal(generate_secret(), "the oid4vci interop key secret"),
            "BASE_URL": base,
            "PASSWORD_HASHER_PARAMS": FAST_HASHER,
        }
    )
    svc = services_of(app)
    demo = dict(seed_demo(svc.instance, svc.accounts))
    personal_demo(demo)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalService(base, demo), svc
    finally:
        server.shutdown()
        thread.join(timeout=10)
        svc.close()


def test_an_expired_offer_is_invalid_grant(
    local_service: tuple[LocalService, Any], wallet: Node
) -> None:
    service, svc = local_service
    made = _offer(service)
    svc.oid4vci.clock = lambda: time.time() + 11 * 60
    body = _refused(
        wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"]),
        400,
        "invalid_grant",
    )
    assert body["code"] == "oid4vci_offer_expired"


# -- one independent wallet, both protocols ------------------------------------------------


def test_the_wallet_that_received_by_openid4vci_presents_by_openid4vp(
    service: Service, wallet: Node
) -> None:
    # issue 13's chain: the same independent wallet receives an ID card through the
    # pre-authorized flow, then answers the hotel's OpenID4VP request with it
    # (DCQL, direct_post.jwt), and the venue reads only the scene's claims
    made = _offer(service)
    received = wallet("receive", offer_uri=made["offer_uri"], tx_code=made["tx_code"])
    assert received["ok"], received.get("error")
    (credential,) = received["credentials"]
    status, request = _http(
        service,
        "POST",
        "/api/v1/verify/requests",
        {"scene": "hotel", "response_mode": "direct_post.jwt"},
        key=service.venue_key("grand-hotel"),
    )
    assert status == 201, request
    vp_wallet = Node("oid4vp_wallet.mjs")
    try:
        answer = vp_wallet(
            "present",
            uri=request["qr"],
            credential=credential,
            holder_private_jwk=received["holder_private_jwk"],
        )
    finally:
        vp_wallet.close()
    assert answer["ok"], answer
    assert answer["status"] == 200, answer
    assert answer["request"]["response_mode"] == "direct_post.jwt"
    status, body = _http(
        service,
        "GET",
        f"/api/v1/verify/requests/{request['id']}",
        key=service.venue_key("grand-hotel"),
    )
    assert status == 200 and body["state"] == "answered", body
    result = body["result"]
    assert result["valid"] is True, result
    assert set(result["claims"]) == {"name", "id_number"}  # no portrait in this credential
    assert result["claims"]["name"] == ID_CLAIMS["name"]
