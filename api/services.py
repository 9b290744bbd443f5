"""The domain objects the HTTP layer calls, built once per app from its config.

``app.extensions["ecert"]`` holds a :class:`Services`; views reach it through
:func:`services`. Configuration (``app.config``, filled from ``ECERT_*`` variables by
the app factory): ``INSTANCE`` (folder, default ``./instance``), ``REDIS_URL``,
``REDIS_CLUSTER`` (``1``: ``REDIS_URL`` names a node of a Redis Cluster),
``KEY_SECRET``, ``BASE_URL``, ``PASSWORD_HASHER_PARAMS`` (keyword arguments of
``argon2.PasswordHasher``, e.g. ``{"time_cost": 1, "memory_cost": 1024, "parallelism": 1}``
for fast tests; unset: argon2-cffi's defaults, RFC 9106's second recommendation), and
``LOGIN_ACCOUNT_LIMITS`` / ``LOGIN_ADDRESS_LIMITS`` (:class:`service.accounts.LoginPolicy`).
The login counters' HMAC key is derived from the instance secret, so every worker of
one instance shares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from flask import Flask, current_app

from api.online import OnlineVerifier
from service.accounts import LOGIN_KEY_LABEL, Accounts, LoginPolicy
from service.instance import Instance, open_instance


@dataclass
class Services:
    """An instance plus the service-only parts (accounts, online verification)."""

    instance: Instance
    accounts: Accounts
    online: OnlineVerifier

    def close(self) -> None:
        """Close the store."""
        self.instance.close()


def init_services(app: Flask) -> Services:
    """Open the instance named by the app's config and keep it in ``app.extensions``."""
    config: dict[str, Any] = app.config
    hasher_params = config.get("PASSWORD_HASHER_PARAMS")
    hasher = PasswordHasher(**hasher_params) if hasher_params else None
    policy = LoginPolicy.from_config(config)
    instance = open_instance(
        config.get("INSTANCE"),
        base_url=config.get("BASE_URL"),
        redis_url=config.get("REDIS_URL"),
        redis_cluster=config.get("REDIS_CLUSTER"),
        key_secret=config.get("KEY_SECRET"),
    )
    built = Services(
        instance=instance,
        accounts=Accounts(
            instance.store,
            hasher=hasher,
            counter_key=instance.derive_key(LOGIN_KEY_LABEL),
            policy=policy,
            pseudonyms=instance.pseudonyms,
        ),
        online=OnlineVerifier(instance.store, instance.platform),
    )
    app.extensions["ecert"] = built
    return built


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    built: Services = current_app.extensions["ecert"]
    return built
