"""Presentations: chosen disclosures plus a key-binding JWT (RFC 9901 §4.3)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keys import EcertError, SigningKey, parse_compact, sign_compact, thumbprint
from keys.b64 import b64url_encode
from keys.trustlist import MAX_SET
from sdjwt import (
    ARRAY_ELEMENT,
    SD,
    SD_ALG,
    TYP_KB_JWT,
    TYP_SD_JWT_VC,
    Disclosure,
    decode_disclosure,
    digest,
    sd_hash,
    split,
)
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
    #: top-level claim name -> the encoded disclosures that reveal it: its own and,
    #: when its value is an object or array with digests, every nested one.
    disclosures: Mapping[str, tuple[str, ...]]
    plain_claims: Mapping[str, Any]
    #: plain (always visible) claims whose value holds digests -> those disclosures.
    plain_nested: Mapping[str, tuple[str, ...]]

    @classmethod
    def parse(cls, sd_jwt: str) -> HeldCredential:
        """Read an SD-JWT VC (``jwt~d1~…~``). Raises :class:`CredentialUnreadable`."""
        try:
            jwt, disclosures, kb = split(sd_jwt)
            if kb:
                raise CredentialUnreadable("a credential must not carry a key-binding JWT")
            jws = parse_compact(jwt, typ=TYP_SD_JWT_VC)
            by_digest = {digest(e): (e, decode_disclosure(e)) for e in disclosures}
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
        reserved = {"iss", "iat", "exp", "nbf", "vct", "cnf", "status", SD, SD_ALG}
        plain = {k: v for k, v in p.items() if k not in reserved}
        by_name: dict[str, tuple[str, ...]] = {}
        top = p.get(SD, [])
        for dig in top if isinstance(top, list) else []:
            found = by_digest.get(dig) if isinstance(dig, str) else None
            if found is not None and found[1].name is not None:
                encoded, disclosure = found
                by_name[found[1].name] = (encoded, *_nested(disclosure.value, by_digest))
        nested = {k: _nested(v, by_digest) for k, v in plain.items()}
        return cls(
            sd_jwt,
            p["iss"],
            p["vct"],
            p["exp"],
            holder_kid,
            by_name,
            plain,
            {k: v for k, v in nested.items() if v},
        )

    def claim_names(self) -> set[str]:
        """Every claim the holder could disclose or that is always visible."""
        return set(self.disclosures) | set(self.plain_claims)


def _nested(value: Any, by_digest: Mapping[str, tuple[str, Disclosure]]) -> tuple[str, ...]:
    """Every disclosure referenced inside ``value``, recursively (RFC 9901 §4.2.4, §4.2.6)."""
    out: list[str] = []
    if isinstance(value, dict):
        digests = value.get(SD, [])
        for dig in digests if isinstance(digests, list) else []:
            found = by_digest.get(dig) if isinstance(dig, str) else None
            if found is not None:
                out.append(found[0])
                out.extend(_nested(found[1].value, by_digest))
        for key, item in value.items():
            if key != SD:
                out.extend(_nested(item, by_digest))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and len(item) == 1 and ARRAY_ELEMENT in item:
                found = by_digest.get(item[ARRAY_ELEMENT])
                if found is not None:
                    out.append(found[0])
                    out.extend(_nested(found[1].value, by_digest))
            else:
                out.extend(_nested(item, by_digest))
    return tuple(out)


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
    chosen: list[str] = []
    for name in claims:
        if name in credential.disclosures:
            chosen.extend(credential.disclosures[name])
        elif name in credential.plain_claims:
            chosen.extend(credential.plain_nested.get(name, ()))
        else:
            raise ClaimsUnavailable(f"the credential has no claim {name!r}")
    jwt = credential.sd_jwt.split("~", 1)[0]
    chosen = list(dict.fromkeys(chosen))  # each disclosure once, even if asked twice
    presented = "~".join([jwt, *chosen]) + "~"
    if nonce is None:
        nonce = b64url_encode(token_bytes(NONCE_BYTES))
    kb_payload = {
        "iat": int(time.time() if now is None else now),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": sd_hash(presented),
    }
    return presented + sign_compact(kb_payload, holder_key, typ=TYP_KB_JWT, with_kid=False)


def present_set(
    helds: Sequence[HeldCredential],
    wanted: Mapping[str, Collection[str]],
    *,
    holder_key: SigningKey,
    aud: str,
    nonce: str | None = None,
    now: float | None = None,
    token_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> str:
    """One set presentation of ``helds`` (2 to :data:`~keys.trustlist.MAX_SET`
    credentials of different types, all bound to ``holder_key``): the JSON array of
    their presentations, written without spaces, each disclosing ``wanted[vct]`` and
    key-bound with the same ``aud`` and ``nonce`` (docs/formats.md, "Set presentations").

    Raises :class:`ClaimsUnavailable` (a type twice, no claims for a type, a claim
    missing, or not 2 to 4 credentials) and :class:`NotHolder`.
    """
    if not 2 <= len(helds) <= MAX_SET:
        raise ClaimsUnavailable(f"a set holds 2 to {MAX_SET} credentials, not {len(helds)}")
    vcts = [held.vct for held in helds]
    if len(set(vcts)) != len(vcts):
        raise ClaimsUnavailable("a set holds each credential type once")
    if nonce is None:
        nonce = b64url_encode(token_bytes(NONCE_BYTES))
    at = time.time() if now is None else now
    members = []
    for held in helds:
        claims = wanted.get(held.vct)
        if claims is None:
            raise ClaimsUnavailable(f"no claims are asked of {held.vct}")
        members.append(present(held, claims, holder_key=holder_key, aud=aud, now=at, nonce=nonce))
    return json.dumps(members, separators=(",", ":"))
