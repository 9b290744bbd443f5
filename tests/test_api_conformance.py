"""API conformance: schemathesis against the served ``/openapi.json`` of the real demo service.

``ecert serve --demo`` runs as a real gunicorn process on 127.0.0.1 (as in
test_service_process.py); schemathesis reads its OpenAPI document and sends every
operation ``EXAMPLES`` generated requests that fit the schema (positive) and as many
that do not (negative), with the demo's keys and a citizen's token for the routes that
need them. Every answer must be: no 5xx; a status code the operation documents
*explicitly* (``default`` is the catch-all problem JSON and does not count); the
documented content type, headers and response schema; invalid data refused with a 4xx
and valid data not refused for its shape; auth enforced where documented (schemathesis
re-sends without it); ``405`` for a method the path does not have. Failures are collected across
all operations and reported together, each with a curl command to replay it.

Half the positive requests are pointed at things that exist (the police department,
the citizen's credential, status list 1, the hotel scene) so that they reach the
handlers' real work instead of stopping at 404 or 403. Shrinking is off (each step
would be another real request): a failure is shown as first found.
``POST /api/v1/auth/logout`` gets a bogus token, so that it cannot end the session the
other routes use.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.browser_helpers import Service, running_service

pytestmark = pytest.mark.slow

#: An operation of the loaded document, with the type arguments schemathesis itself gives
#: it (``BaseSchema.get_all_operations``): parameters, responses and security are untyped.
Operation = APIOperation[Any, Any, Any, Any]

# A batch (POST /api/v1/issuers/{issuer}/batches) is JSON Lines, documented as a string:
# sent as the text it is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

#: Generated requests per operation and mode; ~20 operations x 2 modes in about a minute.
EXAMPLES = 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]


#: Invalid data may also be refused with 413: a generated body over the route's size cap
#: (64 KiB for ``POST /api/v1/verify``) is refused before it is read, as documented.
#: A device's key proof is a signed JWT over a server nonce: no schema can say which
#: strings verify, so a schema-valid proof is refused with its documented 400 code.
#: A change's field and value are checked against the catalogue: a schema-valid one may
#: be refused with its documented 422 code; so may a consent's (registry, catalogue, date).
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                # schemathesis' default list, plus 413 (5xx stay failures: not_a_server_error)
                "expected-statuses": [
                    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                    "428", "429", "5xx",
                ]
            }
        },
        "operations": [
            {
                "include-path": "/api/v1/subjects/{citizen_id}/changes",
                "checks": {
                    "positive_data_acceptance": {
                        # plus 422: which field is a subject field, and which values suit
                        # its claim type, is catalogue data no schema states
                        # (field_unknown, change_invalid). By path alone and first: the
                        # include filters of one entry match if any matches (an entry's
                        # method filter alone selects every POST), and the first entry
                        # that matches an operation wins.
                        "expected-statuses": [
                            "2xx", "3xx", "400", "401", "403", "404", "409", "422", "429",
                            "5xx",
                        ]
                    }
                },
            },
            {
                # A consent's department, proof type, purpose and until are checked
                # against the registry, the catalogue and today's date: a schema-valid one
                # may be refused with its documented 422 (consent_invalid).
                # By path alone (see above): only POST is at these two paths' roots.
                "include-path": "/api/v1/proofs/consent-requests",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx", "3xx", "400", "401", "403", "404", "409", "422", "429",
                            "5xx",
                        ]
                    }
                },
            },
            {
                "include-path": "/api/v1/wallet/consents",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx", "3xx", "400", "401", "403", "404", "409", "422", "429",
                            "5xx",
                        ]
                    }
                },
            },
            {
                # A care authorisation's scenes, until and carer are checked against the
                # trust list, today's date and the caller (issue 12): a schema-valid one
                # may be refused with its documented 422 (carer_invalid,
                # carer_principal_unnamed).
                "include-path": "/api/v1/wallet/carers",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            "2xx", "3xx", "400", "401", "403", "404", "409", "422", "429",
                            "5xx",
                        ]
                    }
                },
            },
            {
                "include-path": "/api/v1/admin/stats",
                "checks": {
                    "positive_data_acceptance": {
                        # plus 400 (stats_range_invalid): 'from' after 'to', more than 92
                        # days, or a date the calendar does not have (2026-02-30), which
                        # no schema states
                        "expected-statuses": [
                            "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
                        ]
                    }
                },
            },
            {
                "include-path": "/api/v1/wallet/devices",
                "include-method": "POST",
                "checks": {
                    "positive_data_acceptance": {
                        # the default list, plus 400 (device_proof_invalid and its family)
                        "expected-statuses": [
                            "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"
                        ]
                    }
                },
            },
        ],
    }
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("conformance")) as running:
        yield running


def _login(service: Service) -> str:
    citizen = service.citizen(0)
    request = urllib.request.Request(
        service.base + "/api/v1/auth/login",
        data=json.dumps(citizen).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def _credentials(service: Service) -> dict[str, str]:
    police = next(d for d in service.demo["departments"] if d["issuer"] == "police")
    return {
        "citizenToken": _login(service),
        "departmentKey": police["api_key"],
        "venueKey": service.venue_key("grand-hotel"),
        "operatorKey": service.demo["operators"][0]["api_key"],
    }


def _credential_id(service: Service, credentials: dict[str, str]) -> str:
    request = urllib.request.Request(
        service.base + "/api/v1/wallet/credentials",
        headers={"Authorization": f"Bearer {credentials['citizenToken']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["items"][0]["id"])


def _token_for(operation: Operation, credentials: dict[str, str]) -> str | None:
    if operation.method.upper() == "POST" and operation.path == "/api/v1/auth/logout":
        return "not-a-session"
    for requirement in operation.definition.raw.get("security", []):
        for scheme in requirement:
            return credentials[scheme]
    return None


def _pin(case: schemathesis.Case[Operation], known: dict[str, str]) -> None:
    """Point a generated request at things that exist, so it gets past the 404s and 403s."""
    params = case.path_parameters or {}
    for name in ("issuer", "id", "n"):
        if name == "id" and case.method.upper() == "DELETE":
            continue  # keep the credential: the other routes need it
        if name in params and name in known:
            params[name] = known[name]
    if isinstance(case.body, dict) and "scene" in case.body:
        case.body["scene"] = "hotel"


#: gunicorn's request-line limit (``limit_request_line``, its default): a longer line is
#: refused with ``414`` by the server itself, before the app sees the request.
LINE_LIMIT = 4094 - len("GET  HTTP/1.1")


def _explicit_status(operation: Operation, status: int) -> str | None:
    """The status must be listed by the operation itself, not only covered by ``default``."""
    documented = set(operation.definition.raw.get("responses", {})) - {"default"}
    if str(status) in documented or f"{str(status)[0]}XX" in documented:
        return None
    return f"status {status} is not documented (only 'default' covers it): {sorted(documented)}"


def test_every_operation_conforms_to_the_openapi_document(
    service: Service, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # The generated URLs are the test client's, not the service's: urllib3 logs each at
    # DEBUG, and a random path segment can equal a demo claim (a birth date), which the
    # session's log-hygiene check would rightly flag were it the service's own record.
    caplog.set_level(logging.INFO, logger="urllib3")
    schema = schemathesis.openapi.from_url(service.base + "/openapi.json", config=CONFIG)
    credentials = _credentials(service)
    failures: dict[str, str] = {}
    seen: Counter[str] = Counter()
    known = {"issuer": "police", "n": "1", "id": _credential_id(service, credentials)}
    sent = 0
    operations = 0

    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"an operation of the document is unusable: {result.err()}")
        operation = result.ok()
        operations += 1
        token = _token_for(operation, credentials)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case[Operation]) -> None:
                nonlocal sent
                sent += 1
                if mode is GenerationMode.POSITIVE and sent % 2:
                    _pin(case, known)
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = case.call(base_url=service.base, headers=headers, timeout=30)
                where = f"{operation.method.upper()} {operation.path}"
                seen[f"{where} {response.status_code}"] += 1
                if response.status_code == 414 and len(response.request.url or "") > LINE_LIMIT:
                    # a generated query string beyond the HTTP server's request-line limit:
                    # gunicorn answers before the app (docs/operations.md), in its own HTML
                    return
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                    problem = _explicit_status(operation, response.status_code)
                    if problem:
                        raise AssertionError(problem)
                except (Exception, BaseExceptionGroup) as err:  # collect them all, report together
                    first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
                    failures.setdefault(
                        f"{where}: {type(err).__name__}: {first}",
                        f"{err}\n  replay: {case.as_curl_command(headers)}",
                    )

            try:
                run()
            except Unsatisfiable:  # nothing to break: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, f"{operation.path}: no valid request"

    with capsys.disabled():
        print(f"\nconformance: {sum(seen.values())} requests over {operations} operations")
        for key, count in sorted(seen.items()):
            print(f"  {count:4} x {key}")
    assert operations >= 20, f"only {operations} operations in /openapi.json"
    assert not failures, f"{len(failures)} kinds of non-conformance:\n" + "\n\n".join(
        f"{key}\n{detail[:1500]}" for key, detail in sorted(failures.items())
    )
