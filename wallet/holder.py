"""A citizen's wallet at library level: one holder key and the credentials bound to it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence

from keys import Scene, SigningKey
from keys.jwk import JWKDict
from wallet.errors import ClaimsUnavailable, NotHolder
from wallet.presentation import HeldCredential, present, present_set


class Wallet:
    """Holds credentials bound to one P-256 holder key and presents them for scenes.

    Persistence is the caller's concern (the service keeps wallets encrypted in the
    store); this class only holds what it is given.
    """

    def __init__(
        self,
        holder_key: SigningKey | None = None,
        *,
        clock: Callable[[], float] = time.time,
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.holder_key = holder_key or SigningKey.generate("ES256")
        self._clock = clock
        self._token_bytes = token_bytes
        self._credentials: list[HeldCredential] = []

    @property
    def holder_jwk(self) -> JWKDict:
        """The public holder key, for the issuer to put in ``cnf.jwk``."""
        return self.holder_key.public_jwk()

    def add(self, sd_jwt: str) -> HeldCredential:
        """Keep a credential. Raises :class:`CredentialUnreadable` or :class:`NotHolder`."""
        held = HeldCredential.parse(sd_jwt)
        if held.holder_kid != self.holder_key.kid:
            raise NotHolder("this credential is bound to another holder key")
        self._credentials.append(held)
        return held

    @property
    def credentials(self) -> list[HeldCredential]:
        """The credentials, in the order they were added."""
        return list(self._credentials)

    def find(self, vct: str) -> HeldCredential:
        """The newest credential of type ``vct``. Raises :class:`ClaimsUnavailable`."""
        for held in reversed(self._credentials):
            if held.vct == vct:
                return held
        raise ClaimsUnavailable(f"the wallet holds no {vct}")

    def present_for_scene(self, held: HeldCredential, scene: Scene) -> str:
        """A presentation of ``held`` with exactly the claims ``scene`` needs.

        Raises :class:`ClaimsUnavailable` if the scene does not accept this type.
        """
        wanted = scene.accept.get(held.vct)
        if wanted is None:
            raise ClaimsUnavailable(f"scene {scene.id!r} does not accept {held.vct}")
        return present(
            held,
            wanted,
            holder_key=self.holder_key,
            aud=scene.id,
            now=self._clock(),
            token_bytes=self._token_bytes,
        )

    def present_set_for_scene(
        self, scene: Scene, helds: Sequence[HeldCredential] | None = None
    ) -> str:
        """One set presentation for a scene with ``all_of``: one credential of each
        required type (``helds``, or the newest of each type held), each disclosing
        exactly the claims the scene's ``all_of`` names, one ``aud`` (the scene) and nonce.

        Raises :class:`ClaimsUnavailable` naming a required type the wallet lacks, or if
        the scene takes no set.
        """
        if not scene.all_of:
            raise ClaimsUnavailable(f"scene {scene.id!r} does not take a set of credentials")
        wanted = dict(scene.all_of)
        if helds is None:
            helds = [self.find(vct) for vct in wanted]
        return present_set(
            helds,
            wanted,
            holder_key=self.holder_key,
            aud=scene.id,
            now=self._clock(),
            token_bytes=self._token_bytes,
        )
