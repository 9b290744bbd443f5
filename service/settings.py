"""The one configuration of an ecert instance, read once at the edge.

:meth:`Settings.from_env` reads the ``ECERT_*`` environment variables (and overrides:
``create_app``'s mapping, the CLI's flags) into a typed, frozen :class:`Settings`.
It is called by :func:`api.create_app` and by the CLI's ``main``; no other module of
the project reads ``os.environ`` (``tests/test_settings.py`` checks it). Every value is
checked here: an unusable one raises :class:`~service.errors.SettingsInvalid`
(``settings_invalid``) naming the setting, never echoing a secret.

Values are JSON when they parse as JSON (``ECERT_TRUST_PROXY=1``,
``ECERT_CORS_ORIGINS='["https://a.example"]'``), else the text itself, as Flask's
``from_prefixed_env`` did; the folder, URLs, secret and log level are always the text.

The settings (``ECERT_<KEY>``, or ``<KEY>`` in a mapping):

``INSTANCE``
    the instance folder (default ``./instance``);
``REDIS_URL``
    use Redis instead of ``<instance>/ecert.db``;
``REDIS_CLUSTER``
    ``1`` (or ``true``/``yes``/``on``): ``REDIS_URL`` names any node of a Redis Cluster
    (docs/scaling.md); needs ``REDIS_URL``;
``KEY_SECRET``
    the key-encryption key (base64url, 256 bits); unset: ``<instance>/secret.key``;
``BASE_URL``
    the public base URL (default ``http://127.0.0.1:8000``); the first one an instance
    uses is kept in its store and wins afterwards;
``PASSWORD_HASHER_PARAMS``
    keyword arguments of ``argon2.PasswordHasher`` (an object of integers);
``LOGIN_ACCOUNT_LIMITS`` / ``LOGIN_ADDRESS_LIMITS``
    :class:`service.accounts.LoginPolicy`;
``MAX_DEVICES``
    the active devices a citizen may register (1..100, default 5);
``JOB_LEASE``
    seconds a worker holds a job (change cascade, batch, re-issue) before another may
    take it over: how long a crashed worker's job waits (1..3600, default 30);
``JOB_PACE``
    seconds a job sleeps between steps (0..60, default 0): spares the store for
    verification during a large job, and lets the tests stop a service mid-job;
``CITY``
    the city the residence attestation names (:mod:`service.derived`; 1 to 32
    characters, default the demo's ``北京市``): a household address that begins with it
    is the city's;
``MAX_CONTENT_LENGTH``, ``TRUST_PROXY``, ``CORS_ORIGINS``, ``CORS_PATHS``,
``HSTS_MAX_AGE``, ``RETRY_AFTER``, ``LOG_LEVEL``
    the HTTP service's (:mod:`api.security`, :mod:`api.errors`, :mod:`api.logging`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from service.accounts import LoginPolicy
from service.errors import SettingsInvalid

__all__ = ["DEFAULT_BASE_URL", "ENV_PREFIX", "KEYS", "Settings", "parse_flag"]

#: The prefix of the environment variables.
ENV_PREFIX = "ECERT_"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_CORS_PATHS = ("/api/v1/", "/.well-known/", "/issuers/", "/trust-list", "/openapi.json")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
#: Settings that are text as written (a folder named ``2024`` is no number).
_TEXT_KEYS = frozenset({"INSTANCE", "REDIS_URL", "KEY_SECRET", "BASE_URL", "LOG_LEVEL", "CITY"})
#: The longest value of one setting read from the environment (a bound on input).
_MAX_VALUE = 4096


def _field_name(key: str) -> str:
    return key.lower()


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an instance and its faces are configured with (see the module doc)."""

    instance: Path = Path("instance")
    redis_url: str | None = None
    redis_cluster: bool = False
    key_secret: str | None = field(default=None, repr=False)
    base_url: str | None = None
    password_hasher_params: Mapping[str, int] | None = None
    login_policy: LoginPolicy = field(default_factory=LoginPolicy)
    max_content_length: int = 64 * 1024
    trust_proxy: int = 0
    cors_origins: tuple[str, ...] = ()
    cors_paths: tuple[str, ...] = DEFAULT_CORS_PATHS
    hsts_max_age: int = 365 * 24 * 3600
    retry_after: int = 5
    log_level: str = "INFO"
    #: Active devices (phones with their own key) a citizen may register.
    max_devices: int = 5
    #: Seconds a worker holds a job's lease (renewed while it runs).
    job_lease: int = 30
    #: Seconds slept between a job's steps.
    job_pace: float = 0.0
    #: The city the residence attestation names (service.derived).
    city: str = "北京市"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Settings:
        """The settings from ``ECERT_*`` variables of ``environ`` (default: the process
        environment), then ``overrides`` (``KEY``: value; ``None`` values are ignored,
        so that an absent CLI flag keeps the environment's value).

        Raises :class:`~service.errors.SettingsInvalid`.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, raw in env.items():
            if not name.startswith(ENV_PREFIX):
                continue
            key = name[len(ENV_PREFIX) :]
            if key not in KEYS:
                continue  # ECERT_CHROMIUM and the like belong to other tools
            if len(raw) > _MAX_VALUE:
                raise SettingsInvalid(f"{name} is longer than {_MAX_VALUE} characters")
            values[key] = raw if key in _TEXT_KEYS else _json_or_text(raw)
        for key, value in (overrides or {}).items():
            if key in KEYS and value is not None:
                values[key] = value
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """The settings from ``KEY``: value pairs (keys not listed in :data:`KEYS` are
        ignored). Raises :class:`~service.errors.SettingsInvalid`."""
        get = values.get
        redis_url = _text(get("REDIS_URL"), "REDIS_URL")
        cluster = parse_flag(get("REDIS_CLUSTER"), "REDIS_CLUSTER")
        if cluster and not redis_url:
            raise SettingsInvalid(
                "ECERT_REDIS_CLUSTER needs ECERT_REDIS_URL (any node of the cluster)"
            )
        try:
            policy = LoginPolicy.from_config(values)
        except ValueError as err:
            raise SettingsInvalid(str(err)) from None
        level = str(get("LOG_LEVEL", "INFO")).upper()
        if level not in _LOG_LEVELS:
            raise SettingsInvalid(f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        return cls(
            instance=Path(_text(get("INSTANCE"), "INSTANCE") or "instance"),
            redis_url=redis_url,
            redis_cluster=cluster,
            key_secret=_secret(get("KEY_SECRET")),
            base_url=_base_url(get("BASE_URL")),
            password_hasher_params=_hasher_params(get("PASSWORD_HASHER_PARAMS")),
            login_policy=policy,
            max_content_length=_count(get("MAX_CONTENT_LENGTH", 64 * 1024), "MAX_CONTENT_LENGTH"),
            trust_proxy=_count(get("TRUST_PROXY", 0), "TRUST_PROXY"),
            cors_origins=_words(get("CORS_ORIGINS"), "CORS_ORIGINS"),
            cors_paths=_words(get("CORS_PATHS", DEFAULT_CORS_PATHS), "CORS_PATHS"),
            hsts_max_age=_count(get("HSTS_MAX_AGE", 365 * 24 * 3600), "HSTS_MAX_AGE"),
            retry_after=_count(get("RETRY_AFTER", 5), "RETRY_AFTER"),
            log_level=level,
            max_devices=_device_limit(get("MAX_DEVICES", 5)),
            job_lease=_bounded(get("JOB_LEASE", 30), "JOB_LEASE", 1, 3600),
            job_pace=float(_bounded(get("JOB_PACE", 0), "JOB_PACE", 0, 60, whole=False)),
            city=_city(get("CITY")),
        )

    def override(self, **changes: Any) -> Settings:
        """A copy with some fields changed (``None`` values keep the current one)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def http_config(self) -> dict[str, Any]:
        """The settings as ``app.config`` keys: the ones the HTTP layer reads, and where
        the instance is (never the key secret)."""
        return {
            "INSTANCE": str(self.instance),
            "REDIS_URL": self.redis_url,
            "REDIS_CLUSTER": self.redis_cluster,
            "BASE_URL": self.base_url,
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "TRUST_PROXY": self.trust_proxy,
            "CORS_ORIGINS": self.cors_origins,
            "CORS_PATHS": self.cors_paths,
            "HSTS_MAX_AGE": self.hsts_max_age,
            "RETRY_AFTER": self.retry_after,
            "LOG_LEVEL": self.log_level,
        }


#: Every setting's key (``ECERT_<KEY>`` in the environment).
KEYS = frozenset(
    {
        "INSTANCE",
        "REDIS_URL",
        "REDIS_CLUSTER",
        "KEY_SECRET",
        "BASE_URL",
        "PASSWORD_HASHER_PARAMS",
        "LOGIN_ACCOUNT_LIMITS",
        "LOGIN_ADDRESS_LIMITS",
        "MAX_CONTENT_LENGTH",
        "TRUST_PROXY",
        "CORS_ORIGINS",
        "CORS_PATHS",
        "HSTS_MAX_AGE",
        "RETRY_AFTER",
        "LOG_LEVEL",
        "MAX_DEVICES",
        "JOB_LEASE",
        "JOB_PACE",
        "CITY",
    }
)


def parse_flag(value: Any, name: str) -> bool:
    """A yes/no setting: a bool, 0/1, or ``1``/``true``/``yes``/``on`` and
    ``0``/``false``/``no``/``off``/empty in any case. Raises :class:`SettingsInvalid`
    otherwise (a typo must not silently pick, say, the single-node client)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise SettingsInvalid(f"ECERT_{name} must be 1 or 0 (true or false)")


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise SettingsInvalid(f"{name} must be text")
    return value


def _secret(value: Any) -> str | None:
    # Never echoed: the key-encryption key's check (length, alphabet) is KeyWrapper's.
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SettingsInvalid("KEY_SECRET must be text (base64url)")
    return value


def _base_url(value: Any) -> str | None:
    url = _text(value, "BASE_URL")
    if url is not None and not url.startswith(("https://", "http://")):
        raise SettingsInvalid("BASE_URL must be an http(s) URL")
    return url


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SettingsInvalid(f"{name} must be a whole number of 0 or more")
    try:
        number = int(value)
    except ValueError:
        raise SettingsInvalid(f"{name} must be a whole number of 0 or more") from None
    if number < 0:
        raise SettingsInvalid(f"{name} must be a whole number of 0 or more")
    return number


def _device_limit(value: Any) -> int:
    number = _count(value, "MAX_DEVICES")
    if not 1 <= number <= 100:
        raise SettingsInvalid("MAX_DEVICES must be a whole number from 1 to 100")
    return number


def _bounded(value: Any, name: str, low: float, high: float, *, whole: bool = True) -> Any:
    """A number of seconds from ``low`` to ``high`` (a whole number if ``whole``)."""
    if isinstance(value, str):
        value = _json_or_text(value.strip())
    number_ok = isinstance(value, int) or (not whole and isinstance(value, float))
    if isinstance(value, bool) or not number_ok or not low <= float(value) <= high:
        kind = "a whole number" if whole else "a number"
        raise SettingsInvalid(f"{name} must be {kind} of seconds from {low:g} to {high:g}")
    return value


def _city(value: Any) -> str:
    """The city's name: 1 to 32 characters, no control or format characters."""
    if value is None or value == "":
        return "北京市"
    if (
        not isinstance(value, str)
        or not 1 <= len(value.strip()) <= 32
        or not all(ch.isprintable() for ch in value)
    ):
        raise SettingsInvalid("CITY must be the city's name, 1 to 32 printable characters")
    return value.strip()


def _words(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.replace(",", " ").split())
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise SettingsInvalid(f"{name} must be a list of strings, or one string of words")


def _hasher_params(value: Any) -> Mapping[str, int] | None:
    if value is None or value == "":
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise SettingsInvalid("PASSWORD_HASHER_PARAMS must be a JSON object of integers")
    allowed = {"time_cost", "memory_cost", "parallelism", "hash_len", "salt_len"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise SettingsInvalid(f"PASSWORD_HASHER_PARAMS has unknown keys: {', '.join(unknown)}")
    return MappingProxyType(dict(value))
