"""OpenID4VP 1.0 with an independent wallet (issue 13, "Interop"): the OpenWallet
Foundation's ``@openid4vc/openid4vp`` client, the ``dcql`` library and
``@sd-jwt/sd-jwt-vc`` (pinned in interop/ts, installed by ``scripts/setup test``),
driven in Node by interop/ts/oid4vp_wallet.mjs, against the real service
(``ecert serve --demo`` under gunicorn, over HTTP).

The wallet holds a credential we issued to its own key: a P-256 key registered as the
demo citizen's device (an OpenID4VCI key proof), whose copy of the ID card is bound to
it. It scans the hotel's request (the ``openid4vp://`` URI), fetches and checks the
signed request object (``x509_hash`` client id against the ``x5c`` certificate),
evaluates the DCQL query, presents with ``direct_post.jwt`` (its own ECDH-ES JWE) and
once with ``direct_post``. The venue reads a valid result with only the scene's
claims. Refused, with a code a developer can act on: a tampered disclosure, the same
response replayed, a wrong nonce, a wrong audience, more claims than asked, a request
expired before the answer.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.browser_helpers import Service, running_service
from tests.hygiene import personal
from tests.test_devices_api import jws, public_jwk
from tests.test_interop_ts import Node

#: interop/ts/oid4vp_wallet.mjs, run by the line-JSON harness of tests/test_interop_ts.py
Wallet = Node


def _call(
    method: str,
    url: str,
    *,
    body: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    token: str | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Holder:
    """The wallet's key and its copy of the demo citizen's ID card, bound to that key."""

    def __init__(self, service: Service) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        citizen = service.citizen(0)
        status, login = _call(
            "POST",
            f"{service.base}/api/v1/auth/login",
            body={"citizen_id": citizen["citizen_id"], "password": citizen["password"]},
        )
        assert status == 200, login
        token = login["access_token"]
        devices = f"{service.base}/api/v1/wallet/devices"
        status, nonce = _call("POST", f"{devices}/nonce", token=token)
        assert status == 200, nonce
        proof = jws(
            {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": public_jwk(self.key)},
            {"aud": service.base, "iat": int(time.time()), "nonce": nonce["c_nonce"]},
            self.key,
        )
        status, device = _call("POST", devices, body={"proof": proof}, token=token)
        assert status == 201, device
        status, copies = _call("GET", f"{devices}/{device['id']}/credentials", token=token)
        assert status == 200, copies
        (copy,) = [c for c in copies["items"] if c["vct"] == "urn:ecert:resident-id-card"]
        self.credential: str = personal(copy["sd_jwt"], "the interop wallet's credential")

    @property
    def private_jwk(self) -> dict[str, str]:
        jwk = dict(public_jwk(self.key))
        jwk["d"] = _b64(self.key.private_numbers().private_value.to_bytes(32, "big"))
        return jwk


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("oid4vp")) as running:
        yield running


@pytest.fixture(scope="module")
def wallet() -> Iterator[Wallet]:
    runner = Node("oid4vp_wallet.mjs")
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def holder(service: Service) -> Holder:
    return Holder(service)


def ask(service: Service, mode: str = "direct_post.jwt", **extra: Any) -> dict[str, Any]:
    status, made = _call(
        "POST",
        f"{service.base}/api/v1/verify/requests",
        body={"scene": "hotel", "response_mode": mode, **extra},
        token=service.venue_key("grand-hotel"),
    )
    assert status == 201, made
    return dict(made)


def result_of(service: Service, made: dict[str, Any]) -> dict[str, Any]:
    status, body = _call(
        "GET",
        f"{service.base}/api/v1/verify/requests/{made['id']}",
        token=service.venue_key("grand-hotel"),
    )
    assert status == 200, body
    return dict(body)


def present(wallet: Wallet, holder: Holder, made: dict[str, Any], **options: Any) -> Any:
    answer = wallet(
        "present",
        uri=made["qr"],
        credential=holder.credential,
        holder_private_jwk=holder.private_jwk,
        **options,
    )
    assert answer["ok"], answer
    return answer


def refused(answer: dict[str, Any], code: str) -> None:
    assert answer["status"] == 400, answer
    assert answer["body"]["error"] == "invalid_request", answer
    assert answer["body"]["code"] == code, answer


@pytest.mark.parametrize("mode", ["direct_post.jwt", "direct_post"])
def test_the_independent_wallet_presents_and_the_venue_reads_only_the_scenes_claims(
    service: Service, wallet: Wallet, holder: Holder, mode: str
) -> None:
    made = ask(service, mode)
    assert result_of(service, made)["state"] == "pending"
    answer = present(wallet, holder, made)
    assert answer["status"] == 200 and answer["body"] == {}, answer
    assert answer["request"]["response_mode"] == mode
    assert answer["request"]["client_id"].startswith("x509_hash:")
    assert answer["request"]["client_name"] == "Grand Hotel" or answer["request"]["client_name"]
    assert answer["query_id"] == "resident-id-card"
    # the wallet's DCQL evaluation chose the claim set with the portrait when it has one
    assert set(answer["disclosed"]) <= {"name", "id_number", "portrait"}
    assert {"name", "id_number"} <= set(answer["disclosed"])
    body = result_of(service, made)
    assert body["state"] == "answered"
    result = body["result"]
    assert result["valid"] is True, result
    assert result["scene"] == "hotel" and result["status"] == "valid"
    assert set(result["claims"]) <= {"name", "id_number", "portrait"}
    assert {"name", "id_number"} <= set(result["claims"])


def test_a_replayed_response_is_refused(service: Service, wallet: Wallet, holder: Holder) -> None:
    made = ask(service)
    answer = present(wallet, holder, made)
    assert answer["status"] == 200, answer
    status, body = _call("POST", answer["request"]["response_uri"], form=answer["form"])
    assert status == 400 and body["code"] == "vp_request_answered", body
    # the same response posted to another request: not its key, not its state
    other = ask(service)
    other_uri = other["request_uri"].replace("/requests/", "/responses/")
    status, body = _call("POST", other_uri, form=answer["form"])
    assert status == 400 and body["code"] == "vp_response_malformed", body
    assert result_of(service, other)["state"] == "pending"


def test_a_tampered_presentation_is_refused(
    service: Service, wallet: Wallet, holder: Holder
) -> None:
    made = ask(service)
    answer = present(wallet, holder, made, tamper="disclosure")
    refused(answer, "vp_presentation_refused")
    result = result_of(service, made)["result"]
    assert result["valid"] is False and result["claims"] == {}
    assert [e["code"] for e in result["errors"]] == ["disclosure_invalid"], result


@pytest.mark.parametrize(
    ("kb", "word"),
    [({"nonce": "a-nonce-of-another-request"}, "nonce"), ({"aud": "hotel"}, "aud")],
    ids=["wrong-nonce", "wrong-audience"],
)
def test_a_key_binding_for_something_else_is_refused(
    service: Service, wallet: Wallet, holder: Holder, kb: dict[str, str], word: str
) -> None:
    made = ask(service)
    answer = present(wallet, holder, made, kb=kb)
    refused(answer, "vp_presentation_refused")
    assert "key_binding_invalid" in answer["body"]["error_description"]
    error = result_of(service, made)["result"]["errors"][0]
    assert error["code"] == "key_binding_invalid" and word in error["message"]


def test_more_claims_than_the_query_asks_are_refused(
    service: Service, wallet: Wallet, holder: Holder
) -> None:
    made = ask(service)
    answer = present(wallet, holder, made, disclose_extra=["birth_date"])
    refused(answer, "vp_presentation_refused")
    assert "birth_date" in answer["body"]["error_description"]


def test_a_request_expired_before_the_answer_is_refused(
    service: Service, wallet: Wallet, holder: Holder
) -> None:
    made = ask(service, expires_in=5)
    answer = present(wallet, holder, made, wait_before_submit=6.5)
    refused(answer, "vp_request_expired")
    assert result_of(service, made)["state"] == "expired"
    # and a wallet that scans it now cannot even fetch it
    late = wallet(
        "present",
        uri=made["qr"],
        credential=holder.credential,
        holder_private_jwk=holder.private_jwk,
    )
    assert not late["ok"] and "400" in late["error"], late
