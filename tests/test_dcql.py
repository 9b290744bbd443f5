"""DCQL (OpenID4VP 1.0 §6, §7): the rules one by one, then a differential test against an
independent implementation, the OpenWallet Foundation's TypeScript ``dcql`` library
(interop/ts), over random queries and wallets: both must agree on which queries are
valid, whether a wallet can satisfy one, which credentials match each Credential Query,
and with which claim set."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_interop_ts import Node
from verifier.dcql import Candidate, evaluate, parse_query, select_path
from verifier.errors import DcqlInvalid

ID_CARD = "urn:ecert:resident-id-card"
AGE = "urn:ecert:age-attestation"


def query(*credentials: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"credentials": list(credentials), **top}


def cq(qid: str, vcts: list[str] | None = None, **members: Any) -> dict[str, Any]:
    meta = {} if vcts is None else {"vct_values": vcts}
    return {"id": qid, "format": "dc+sd-jwt", "meta": meta, **members}


CARD = Candidate(
    ID_CARD,
    {
        "name": "张三",
        "id_number": "110101199003070011",
        "address": {"city": "北京", "street": "示例路1号"},
        "nationalities": ["CN", "HK"],
        "age_over_18": True,
        "children": 2,
    },
)
ATTESTATION = Candidate(AGE, {"age_over_18": True, "age_over_65": False})


# -- claims path pointers (§7.1) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        (["name"], ("张三",)),
        (["address", "city"], ("北京",)),
        (["nationalities", None], ("CN", "HK")),
        (["nationalities", 1], ("HK",)),
        (["nationalities", 2], ()),  # out of range: nothing
        (["missing"], ()),
        (["name", "x"], ()),  # a string is not an object
        (["address", None], ()),  # an object is not an array
        (["nationalities", "0"], ()),  # an array is not an object
    ],
)
def test_a_claims_path_pointer_selects_as_section_7_1_says(
    path: list[Any], selected: tuple[Any, ...]
) -> None:
    assert select_path(CARD.claims, path) == selected


# -- selecting claims and credentials (§6.4) ---------------------------------------------------


def test_all_claims_are_requested_without_claim_sets() -> None:
    q = parse_query(query(cq("id", [ID_CARD], claims=[{"path": ["name"]}, {"path": ["nope"]}])))
    assert not evaluate(q, [CARD]).satisfied
    q = parse_query(query(cq("id", [ID_CARD], claims=[{"path": ["name"]}])))
    selection = evaluate(q, [CARD, ATTESTATION])
    assert selection.satisfied and selection.chosen == ("id",)
    assert [(m.index, m.paths) for m in selection.matches["id"]] == [(0, (("name",),))]


def test_the_first_satisfiable_claim_set_is_chosen_least_disclosure_first() -> None:
    q = parse_query(
        query(
            cq(
                "age",
                claims=[
                    {"id": "over18", "path": ["age_over_18"], "values": [True]},
                    {"id": "birth", "path": ["birth_date"]},
                ],
                claim_sets=[["over18"], ["birth"]],
            )
        )
    )
    selection = evaluate(q, [Candidate(ID_CARD, {"birth_date": "1990-03-07"}), ATTESTATION])
    assert [(m.index, m.paths) for m in selection.matches["age"]] == [
        (0, (("birth_date",),)),
        (1, (("age_over_18",),)),
    ]


def test_values_match_type_and_value_exactly() -> None:
    for values, ok in (([True], True), ([1], False), (["true"], False), ([False, True], True)):
        q = parse_query(query(cq("a", claims=[{"path": ["age_over_18"], "values": values}])))
        assert evaluate(q, [ATTESTATION]).satisfied is ok, values
    q = parse_query(query(cq("a", claims=[{"path": ["children"], "values": [2]}])))
    assert evaluate(q, [CARD]).satisfied
    q = parse_query(query(cq("a", claims=[{"path": ["children"], "values": [True]}])))
    assert not evaluate(q, [CARD]).satisfied


def test_credential_sets_required_and_optional() -> None:
    both = [cq("card", [ID_CARD]), cq("age", [AGE]), cq("other", ["urn:x"])]
    q = parse_query(
        query(*both, credential_sets=[{"options": [["other"], ["card"]]}, {"options": [["age"]]}])
    )
    selection = evaluate(q, [CARD, ATTESTATION])
    assert selection.satisfied and selection.chosen == ("card", "age")
    q = parse_query(
        query(*both, credential_sets=[{"options": [["card"]]}, {"options": [["other"]]}])
    )
    assert not evaluate(q, [CARD]).satisfied and evaluate(q, [CARD]).chosen == ()
    q = parse_query(
        query(
            *both,
            credential_sets=[{"options": [["card"]]}, {"options": [["other"]], "required": False}],
        )
    )
    assert evaluate(q, [CARD]).chosen == ("card",)


def test_a_query_for_another_format_matches_nothing_of_ours() -> None:
    q = parse_query(query({"id": "m", "format": "mso_mdoc", "meta": {"doctype_value": "x"}}))
    assert not evaluate(q, [CARD]).satisfied
    unbound = Candidate(ID_CARD, {}, holder_binding=False)
    assert not evaluate(parse_query(query(cq("a"))), [unbound]).satisfied
    q = parse_query(query(cq("a", require_cryptographic_holder_binding=False)))
    assert evaluate(q, [unbound]).satisfied


def test_unknown_members_are_ignored() -> None:
    q = parse_query({"credentials": [cq("a") | {"future": 1}], "future": {"x": 1}})
    assert evaluate(q, [CARD]).satisfied


INVALID = {
    "no credentials": {"credentials": []},
    "not an object": [],
    "credential id with a space": query(cq("a b")),
    "credential id twice": query(cq("a"), cq("a")),
    "format missing": {"credentials": [{"id": "a", "meta": {}}]},
    "meta missing": {"credentials": [{"id": "a", "format": "dc+sd-jwt"}]},
    "empty claims": query(cq("a", claims=[])),
    "empty path": query(cq("a", claims=[{"path": []}])),
    "negative index": query(cq("a", claims=[{"path": ["x", -1]}])),
    "float in a path": query(cq("a", claims=[{"path": ["x", 1.5]}])),
    "empty values": query(cq("a", claims=[{"path": ["x"], "values": []}])),
    "object value": query(cq("a", claims=[{"path": ["x"], "values": [{}]}])),
    "claim_sets without claims": query(cq("a", claim_sets=[["x"]])),
    "claim_sets with a claim lacking an id": query(
        cq("a", claims=[{"path": ["x"]}], claim_sets=[["x"]])
    ),
    "claim_sets naming an unknown claim": query(
        cq("a", claims=[{"id": "x", "path": ["x"]}], claim_sets=[["y"]])
    ),
    "claim id twice": query(
        cq("a", claims=[{"id": "x", "path": ["x"]}, {"id": "x", "path": ["y"]}])
    ),
    "empty vct_values": query(cq("a", [])),
    "options naming an unknown credential": query(cq("a"), credential_sets=[{"options": [["b"]]}]),
    "empty options": query(cq("a"), credential_sets=[{"options": []}]),
    "empty option": query(cq("a"), credential_sets=[{"options": [[]]}]),
    "multiple not a boolean": query(cq("a", multiple="yes")),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_query_is_refused_naming_the_member(case: str) -> None:
    with pytest.raises(DcqlInvalid) as err:
        parse_query(INVALID[case])
    assert err.value.code == "dcql_invalid"
    assert err.value.message.startswith("dcql_query")
    assert "\n" not in err.value.message


def test_a_query_too_large_or_not_json_is_refused() -> None:
    with pytest.raises(DcqlInvalid, match="larger than"):
        parse_query(json.dumps(query(cq("a"))) + " " * 40_000)
    with pytest.raises(DcqlInvalid, match="not JSON"):
        parse_query("{")


# -- the differential test against the TypeScript implementation -----------------------------

VCTS = [ID_CARD, AGE, "urn:ecert:driving-licence"]
NAMES = ["name", "id_number", "age_over_18", "age_over_65", "children", "address", "tags"]


def random_claims(rng: random.Random) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for name in rng.sample(NAMES, rng.randint(0, len(NAMES))):
        if name.startswith("age_over"):
            claims[name] = rng.choice([True, False, 1, "true"])
        elif name == "children":
            claims[name] = rng.choice([0, 1, 2, True])
        elif name == "address":
            claims[name] = {"city": rng.choice(["北京", "上海"]), "zip": rng.choice(["100000", 1])}
        elif name == "tags":
            claims[name] = rng.sample(["a", "b", "c"], rng.randint(0, 3))
        else:
            claims[name] = rng.choice(["张三", "李四", "110101199003070011"])
    return claims


def random_path(rng: random.Random) -> list[Any]:
    head = rng.choice([*NAMES, "missing"])
    if head == "address" and rng.random() < 0.7:
        return [head, rng.choice(["city", "zip", "none"])]
    if head == "tags" and rng.random() < 0.8:
        return [head, rng.choice([None, 0, 1, 5])]
    return [head]


def random_values(rng: random.Random) -> list[Any]:
    pool: list[Any] = [True, False, 1, 0, 2, "true", "张三", "北京", "a", "100000"]
    return rng.sample(pool, rng.randint(1, 3))


def random_query(rng: random.Random) -> dict[str, Any]:
    credentials = []
    for n in range(rng.randint(1, 3)):
        q: dict[str, Any] = {"id": f"q{n}", "format": "dc+sd-jwt", "meta": {}}
        if rng.random() < 0.7:
            q["meta"]["vct_values"] = rng.sample(VCTS, rng.randint(1, 2))
        if rng.random() < 0.8:
            claims = []
            for m in range(rng.randint(1, 3)):
                claim: dict[str, Any] = {"id": f"c{m}", "path": random_path(rng)}
                if rng.random() < 0.4:
                    claim["values"] = random_values(rng)
                claims.append(claim)
            q["claims"] = claims
            if rng.random() < 0.5:
                ids = [c["id"] for c in claims]
                q["claim_sets"] = [
                    rng.sample(ids, rng.randint(1, len(ids))) for _ in range(rng.randint(1, 3))
                ]
        credentials.append(q)
    top: dict[str, Any] = {"credentials": credentials}
    if rng.random() < 0.4:
        ids = [c["id"] for c in credentials]
        top["credential_sets"] = [
            {
                "options": [
                    rng.sample(ids, rng.randint(1, len(ids))) for _ in range(rng.randint(1, 2))
                ],
                "required": rng.random() < 0.7,
            }
            for _ in range(rng.randint(1, 2))
        ]
    if rng.random() < 0.05:  # now and then an invalid query: both must refuse it
        credentials[0]["id"] = "not valid!"
    return top


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    runner = Node()
    yield runner
    runner.close()


def ours(q: dict[str, Any], wallet: list[Candidate]) -> dict[str, Any]:
    try:
        parsed = parse_query(q)
    except DcqlInvalid:
        return {"valid": False}
    selection = evaluate(parsed, wallet)
    matches = {}
    for credential in parsed.credentials:
        found = []
        for match in selection.matches[credential.id]:
            claim_set = None
            if credential.claim_sets is not None:
                by_id = {c.id: tuple(c.path) for c in credential.claims or ()}
                claim_set = next(
                    i
                    for i, ids in enumerate(credential.claim_sets)
                    if tuple(by_id[x] for x in ids) == match.paths
                )
            found.append({"index": match.index, "claim_set": claim_set})
        matches[credential.id] = found
    return {"valid": True, "can_be_satisfied": selection.satisfied, "matches": matches}


def test_we_agree_with_the_typescript_dcql_library(node: Node) -> None:
    rng = random.Random(20261203)
    agreed = satisfied = 0
    for case in range(400):
        q = random_query(rng)
        wallet = [Candidate(rng.choice(VCTS), random_claims(rng)) for _ in range(rng.randint(0, 4))]
        theirs = node(
            "dcql", query=q, credentials=[{"vct": c.vct, "claims": c.claims} for c in wallet]
        )
        assert theirs.pop("ok"), theirs
        mine = ours(q, wallet)
        assert mine == theirs, (case, json.dumps(q, ensure_ascii=False), wallet)
        agreed += 1
        satisfied += bool(mine.get("can_be_satisfied"))
    # The corpus exercises both outcomes, not only refusals.
    assert agreed == 400 and 40 < satisfied < 360
