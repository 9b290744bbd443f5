"""Runs last: nothing the whole suite logged holds personal data, tokens or keys.

The conftest keeps every log record of the session. Searched for: the demo and test
citizens' names, ID numbers and addresses, anything shaped like a JWT or an SD-JWT,
our bearer tokens and API keys.
"""

from __future__ import annotations

import re

from cli.seed import CITIZENS
from tests.conftest import SESSION_LOGS
from tests.factory import ID_CLAIMS

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
SECRETS = re.compile(r"\b(?:es|ek)_[A-Za-z0-9_-]{20,}")


def _personal_values() -> set[str]:
    values = {str(v) for v in ID_CLAIMS.values() if len(str(v)) >= 2}
    for citizen in CITIZENS:
        values.add(citizen["citizen_id"])
        for _, _, claims in citizen["credentials"]:
            values |= {str(v) for k, v in claims.items() if k in ("name", "id_number", "address")}
    return values


def test_the_suite_logged_something_to_search() -> None:
    # Guard: if nothing was captured, the check below would pass for the wrong reason.
    import logging

    logging.getLogger("ecert.test").info("log hygiene probe")
    assert any("log hygiene probe" in line for line in SESSION_LOGS.lines)


def test_no_personal_data_tokens_or_keys_in_any_log_line() -> None:
    text = "\n".join(SESSION_LOGS.lines)
    leaks = sorted(v for v in _personal_values() if v in text)
    assert leaks == [], f"personal data in logs: {len(leaks)} values"
    assert JWT.search(text) is None, "a JWT was logged"
    assert SECRETS.search(text) is None, "a bearer token or API key was logged"
