"""Helpers for the interoperability tests with the SD-JWT reference implementation.

The reference implementation (PyPI ``sd-jwt``, openwallet-foundation-labs/sd-jwt-python)
signs and verifies with ``jwcrypto``; these helpers move keys between our
:class:`~keys.SigningKey` and ``jwcrypto.jwk.JWK`` through their JWK JSON, build what
an offline verifier of ours needs (a trust list we sign and a status list token) for
an issuer that is *not* run by our platform, and read tokens without verifying them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from jwcrypto.jwk import JWK

from issuer import default_scenes, encode_status_list_token
from keys import SigningKey, build_trust_list
from keys.trustlist import IssuerEntryDict, SceneDict
from sdjwt import StatusList

VCT = "urn:ecert:resident-id-card"
#: What the hotel scene of the shipped defaults asks for (issuer/data/scenes.json).
HOTEL_CLAIMS = ("name", "id_number")
STATUS_BITS = 2
STATUS_SIZE = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64_json(segment: str) -> Any:
    """Decode one base64url JSON segment (of a JWS or a disclosure), unverified."""
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def public_jwcrypto(jwk: Mapping[str, Any]) -> JWK:
    """Our public JWK dict as a ``jwcrypto`` key (through its JSON)."""
    return JWK.from_json(json.dumps(dict(jwk)))


def private_jwcrypto(key: SigningKey) -> JWK:
    """Our private key as a ``jwcrypto`` key, through a private JWK (RFC 7518 §6.2.2, RFC 8037).

    The private JWK JSON is built here, in the test, from the public JWK plus ``d``:
    the library never exports private material as a JWK, on purpose.
    """
    jwk: dict[str, Any] = dict(key.public_jwk())
    if isinstance(key.key, ec.EllipticCurvePrivateKey):
        jwk["d"] = _b64(key.key.private_numbers().private_value.to_bytes(32, "big"))
    else:
        jwk["d"] = _b64(key.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    converted = JWK.from_json(json.dumps(jwk))
    # Both sides compute the RFC 7638 thumbprint: the kids we publish must agree.
    assert converted.thumbprint() == key.kid
    return converted


def split_presentation(text: str) -> tuple[str, list[str], str]:
    """``jwt~d1~…~kb`` into the issuer-signed JWT, the disclosures and the KB-JWT ('' if none)."""
    jwt, *disclosures, kb = text.split("~")
    return jwt, disclosures, kb


def unverified_payload(jwt: str) -> dict[str, Any]:
    """The payload of a compact JWS, NOT verified (the tests compare processing, not trust)."""
    payload = b64_json(jwt.split(".")[1])
    assert isinstance(payload, dict)
    return payload


def raw_payload(jwt: str) -> bytes:
    """The payload bytes of a compact JWS as the issuer serialised them, NOT verified."""
    segment = jwt.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unverified_header(jwt: str) -> dict[str, Any]:
    """The protected header of a compact JWS, NOT verified."""
    header = b64_json(jwt.split(".")[0])
    assert isinstance(header, dict)
    return header


@dataclass(frozen=True)
class ForeignIssuer:
    """An issuer whose credentials the reference implementation signs, trusted by our bundle."""

    iss: str
    key: SigningKey
    anchor: SigningKey

    @property
    def status_uri(self) -> str:
        """The one status list of this issuer."""
        return f"{self.iss}/status/1"

    def bundle(
        self,
        now: int,
        *,
        statuses: Mapping[int, int] | None = None,
        scenes: Iterable[Mapping[str, Any]] = (),
    ) -> dict[str, Any]:
        """A verifier bundle: a trust list signed by ``anchor`` and one status list token.

        ``statuses`` maps status indices to values (0 valid, 1 revoked, 2 suspended);
        ``scenes`` are added to the shipped default scenes.
        """
        entry: IssuerEntryDict = {
            "iss": self.iss,
            "name": {"zh": "外部签发机关", "en": "Foreign issuer"},
            "jwks": {"keys": [dict(self.key.public_jwk())]},
            "revoked_kids": [],
            "vcts": [VCT],
        }
        trust_list = build_trust_list(
            self.anchor,
            anchor_id="https://trust.example",
            issuers=[entry],
            # Plain dicts (default_scenes() is typed so): build_trust_list checks each one.
            scenes=cast(list[SceneDict], [*default_scenes(), *scenes]),
            now=now,
        )
        status_list = StatusList.zeros(STATUS_BITS, STATUS_SIZE)
        for idx, value in (statuses or {}).items():
            status_list.set(idx, value)
        token = encode_status_list_token(
            status_list, uri=self.status_uri, iss=self.iss, key=self.key, now=now
        )
        return {"trust_list": trust_list, "status_lists": [token]}
