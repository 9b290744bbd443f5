"""The credential the service serves is verified by the SD-JWT reference implementation,
trusting only the keys from our SD-JWT VC issuer metadata endpoint."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from sdjwt.qr_transport import decode_compact
from tests.api_helpers import AuthActions, api_app, auth, client, demo, jwt_payload, path_of

# The fixtures of tests/api_helpers.py, used by name below.
__all__ = ["api_app", "auth", "client", "demo"]


def test_the_reference_verifier_accepts_our_served_credential(
    client: FlaskClient, auth: AuthActions
) -> None:
    headers = auth.citizen()
    items = client.get("/api/v1/wallet/credentials", headers=headers).get_json()["items"]
    cred_id = next(i["id"] for i in items if i["vct"] == "urn:ecert:resident-id-card")
    # The offline QR text is the compact transport: unpacked, the exact SD-JWT+KB.
    shown = decode_compact(
        client.post(
            f"/api/v1/wallet/credentials/{cred_id}/presentations",
            json={"scene": "hotel", "mode": "offline"},
            headers=headers,
        ).get_json()["qr"]
    )
    kb = jwt_payload(shown.rsplit("~", 1)[1])

    def issuer_key(iss: str, header: dict[str, Any]) -> JWK:
        # Only what the metadata endpoint of this issuer publishes is trusted.
        metadata = client.get(
            path_of(iss.replace("/issuers/", "/.well-known/jwt-vc-issuer/issuers/"))
        )
        assert metadata.status_code == 200
        document = metadata.get_json()
        assert document["issuer"] == iss
        key = next(k for k in document["jwks"]["keys"] if k["kid"] == header["kid"])
        return JWK.from_json(json.dumps(key))

    payload = SDJWTVerifier(
        shown,
        issuer_key,
        expected_aud="hotel",
        expected_nonce=kb["nonce"],
        serialization_format="compact",
    ).get_verified_payload()

    owner = client.get(f"/api/v1/wallet/credentials/{cred_id}", headers=headers).get_json()
    assert payload["name"] == owner["claims"]["name"]
    assert payload["id_number"] == owner["claims"]["id_number"]
    assert "address" not in payload  # the hotel sees only what it needs
