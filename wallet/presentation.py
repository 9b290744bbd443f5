"""Presentations: chosen disclosures plus a key-binding JWT (RFC 9901 §4.3)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from keys import EcertError, SigningKey, parse_compact, sign_compact, thumbprint
from keys.b64 import b64url_encode
from sdjwt import TYP_KB_JWT, TYP_SD_JWT_VC, decode_disclosure, sd_hash, split
from wallet.errors import ClaimsUnavailable, CredentialUnreadable, NotHolder

#: Nonce size: 128 bits from the CSPRNG.
NONCE_BYTES = 16


@dataclass(frozen=True, slots=True)
class HeldCredential:
    """A credential as the wallet holds it: the SD-JWT and what the wallet read from it.

    The wallet parses its own credential without checking the issuer's signature;
    that is the verifier's job.
    """

    sd_jwt: str
    iss: str
    vct: str
    exp: int
    holder_kid: str
    disclosures: Mapping[str, str]  # claim name -> encoded disclosure
    plain_claims: Mapping[str, Any]

    @classmethod
    def parse(cls, sd_jwt: str) -> HeldCredential:
        """Read an SD-JWT VC (``jwt~d1~…~``). Raises :class:`CredentialUnreadable`."""
        try:
            jwt, disclosures, kb = split(sd_jwt)
            if kb:
                raise CredentialUnreadable("a credential must not carry a key-binding JWT")
            jws = parse_compact(jwt, typ=TYP_SD_JWT_VC)
            by_name = {}
            for encoded in disclosures:
                d = decode_disclosure(encoded)
                if d.name is None:
                    raise CredentialUnreadable("array-element disclosures are not supported")
                by_name[d.name] = encoded
        except CredentialUnreadable:
            raise
        except EcertError as err:
            raise CredentialUnreadable(f"not an SD-JWT VC: {err.message}") from err
        p = jws.payload
        cnf = p.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        if not (isinstance(p.get("iss"), str) and isinstance(p.get("vct"), str)):
            raise CredentialUnreadable("the credential has no 'iss' or 'vct'")
        if not isinstance(p.get("exp"), int) or not isinstance(jwk, dict):
            raise CredentialUnreadable("the credential has no 'exp' or holder key")
        try:
            holder_kid = thumbprint(jwk)
        except EcertError as err:
            raise CredentialUnreadable("the credential's holder key is unusable") from err
        reserved = {"iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd", "_sd_alg"}
        plain = {k: v for k, v in p.items() if k not in reserved}
        return cls(sd_jwt, p["iss"], p["vct"], p["exp"], holder_kid, by_name, plain)

    def claim_names(self) -> set[str]:
        """Every claim the holder could disclose or that is always visible."""
        return set(self.disclosures) | set(self.plain_claims)


def present(
    credential: HeldCredential,
    claims: Collection[str],
    *,
    holder_key: SigningKey,
    aud: str,
    now: float | None = None,
    nonce: str | None = None,
    token_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """Build ``jwt~d…~kb-jwt`` disclosing exactly ``claims``, bound to ``aud``.

    Raises :class:`ClaimsUnavailable` when a claim is missing and :class:`NotHolder`
    when ``holder_key`` is not the key the credential is bound to.
    """
    if holder_key.kid != credential.holder_kid:
        raise NotHolder("this credential is bound to another holder key")
    chosen = []
    for name in claims:
        if name in credential.disclosures:
            chosen.append(credential.disclosures[name])
        elif name not in credential.plain_claims:
            raise ClaimsUnavailable(f"the credential has no claim {name!r}")
    jwt = credential.sd_jwt.split("~", 1)[0]
    presented = "~".join([jwt, *chosen]) + "~"
    if nonce is None:
        nonce = b64url_encode(token_bytes(NONCE_BYTES))
    kb_payload = {
        "iat": int(time.time() if now is None else now),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": sd_hash(presented),
    }
    return presented + sign_compact(kb_payload, holder_key, typ=TYP_KB_JWT)
