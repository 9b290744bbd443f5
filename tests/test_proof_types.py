"""The proof-type catalogue (issuer/data/proofs.json): data, checked when loaded against
the credential catalogue, and the answer it computes (issue 11)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest

from cli.seed import DEPARTMENTS
from issuer.catalogue import load_catalogue
from issuer.errors import CatalogueError, ProofInputsInvalid, UnknownProofType
from issuer.proof_types import (
    FOUND_CLAIM,
    MAX_VALID_FOR,
    MIN_VALID_FOR,
    load_proof_types,
    parse_proof_types,
)
from tests.hygiene import personal

TYPES = load_proof_types()
CATALOGUE = load_catalogue()
PARENT = personal("110101196501010026", "test_proof_types parent id")
SECRET = personal("SEKRIT-输入", "test_proof_types secret input")


def raw() -> list[dict[str, Any]]:
    text = resources.files("issuer").joinpath("data", "proofs.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def test_at_least_thirty_types_the_programme_answers_most() -> None:
    assert len(TYPES) >= 30
    ids = {t.id for t in TYPES}
    assert len(ids) == len(TYPES)
    assert ids >= {
        "kinship-parent-child",
        "kinship-spouse",
        "no-criminal-record",
        "residence",
        "household-membership",
        "marital-status",
        "birth",
        "death",
        "social-insurance-payment",
        "provident-fund-deposit",
        "tax-payment",
        "education",
        "disability",
        "property-ownership",
        "business-registration",
    }


def test_every_type_is_complete_in_both_languages() -> None:
    for proof in TYPES:
        assert re.fullmatch(r"[a-z0-9-]{1,64}", proof.id)
        assert re.search(r"[\u4e00-\u9fff]", proof.name.zh), proof.id
        assert proof.name.en.strip(), proof.id
        assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", proof.answered_by)
        assert MIN_VALID_FOR <= proof.valid_for <= MAX_VALID_FOR, proof.id
        assert proof.sources and all(vct in CATALOGUE for vct in proof.sources)
        assert proof.claim_names[0] == FOUND_CLAIM
        labels = [(c.name, c.label) for c in proof.claims] + [
            (i.name, i.label) for i in proof.inputs
        ]
        for name, label in labels:
            assert re.search(r"[\u4e00-\u9fff]", label.zh), (proof.id, name)
            assert label.en.strip(), (proof.id, name)
        for spec in proof.inputs:
            assert 1 <= spec.max_length <= 128


def test_kinship_parent_child_needs_the_relatives_id() -> None:
    proof = TYPES.get("kinship-parent-child")
    assert [i.name for i in proof.inputs] == ["relative_id"]
    assert proof.answered_by == "health"
    assert TYPES.get("kinship-spouse").inputs[0].name == "relative_id"


def test_the_public_form_lists_found_first_and_no_computation() -> None:
    public = TYPES.get("kinship-parent-child").to_public()
    assert set(public) == {"id", "name", "answered_by", "inputs", "claims", "valid_for"}
    assert public["claims"][0] == {
        "name": "found",
        "label": {"zh": "有记录", "en": "Record found"},
        "type": "boolean",
    }
    assert all(set(c) == {"name", "label", "type"} for c in public["claims"])


def test_the_demo_registers_every_answering_department_with_its_sources() -> None:
    demo = {slug: set(vcts) for slug, _, _, vcts in DEPARTMENTS}
    for proof in TYPES:
        assert proof.answered_by in demo, proof.id
        assert set(proof.sources) <= demo[proof.answered_by], proof.id


def test_unknown_type() -> None:
    with pytest.raises(UnknownProofType) as caught:
        TYPES.get("no-such-proof")
    assert caught.value.code == "unknown_proof_type"
    assert "no-such-proof" not in TYPES and 3 not in TYPES


# -- the answer ----------------------------------------------------------------------------


def test_no_record_is_an_answer() -> None:
    proof = TYPES.get("no-criminal-record")
    assert proof.answer([], {}) == {"found": False}


def test_the_answer_copies_the_claims_it_names_and_skips_absent_ones() -> None:
    proof = TYPES.get("identity")
    claims = {"name": "张三", "sex": "男", "birth_date": "1990-03-07", "address": "x"}
    assert proof.answer([claims], {}) == {
        "found": True,
        "name": "张三",
        "sex": "男",
        "birth_date": "1990-03-07",
    }


def test_a_match_rule_picks_the_credential_and_names_the_relationship() -> None:
    proof = TYPES.get("kinship-parent-child")
    inputs = proof.check_inputs({"relative_id": PARENT})
    other = {"mother_id_number": "11010119600101002X", "birth_date": "1999-01-01"}
    child = {"father_id_number": PARENT, "birth_date": "1990-01-01"}
    assert proof.answer([other, child], inputs) == {
        "found": True,
        "relationship": "father",
        "birth_date": "1990-01-01",
    }
    assert proof.answer([other], inputs) == {"found": False}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (None, "missing input 'relative_id'"),
        ({}, "missing input 'relative_id'"),
        ({"relative_id": 110101}, "must be a string"),
        ({"relative_id": ""}, "1 to 18 characters"),
        ({"relative_id": SECRET * 4}, "1 to 18 characters"),
        ({"relative_id": SECRET}, "not in the expected form"),
        ({"relative_id": PARENT, "other": "x"}, "unknown input 'other'"),
        ({"relative_id": PARENT, SECRET: "x"}, "unknown input '?'"),
        ([("relative_id", PARENT)], "must be a JSON object"),
    ],
)
def test_inputs_are_checked_and_never_echoed(inputs: Any, message: str) -> None:
    proof = TYPES.get("kinship-parent-child")
    with pytest.raises(ProofInputsInvalid) as caught:
        proof.check_inputs(inputs)
    assert message in caught.value.message
    assert SECRET not in caught.value.message and PARENT not in caught.value.message
    assert caught.value.code == "proof_inputs_invalid"


def test_a_type_without_inputs_takes_none() -> None:
    proof = TYPES.get("no-criminal-record")
    assert proof.check_inputs(None) == {} == proof.check_inputs({})
    with pytest.raises(ProofInputsInvalid):
        proof.check_inputs({"relative_id": PARENT})


# -- a broken file is refused, naming the entry ----------------------------------------------


def _first(data: list[dict[str, Any]], proof_id: str) -> dict[str, Any]:
    return next(e for e in data if e["id"] == proof_id)


Mutation = Callable[[list[dict[str, Any]]], object]
BROKEN: dict[str, tuple[Mutation, str]] = {
    "unknown-source": (
        lambda d: _first(d, "birth")["sources"].append("urn:ecert:nope"),
        "unknown credential type",
    ),
    "from-missing-claim": (
        lambda d: _first(d, "birth")["claims"][0].update({"from": "shoe_size"}),
        "has no claim 'shoe_size'",
    ),
    "from-wrong-type": (
        lambda d: _first(d, "birth")["claims"][0].update({"type": "integer"}),
        "is not a integer",
    ),
    "found-is-reserved": (
        lambda d: _first(d, "birth")["claims"][0].update({"name": "found"}),
        "every answer's own claim",
    ),
    "both-from-and-matched": (
        lambda d: _first(d, "birth")["claims"][0].update({"matched": {"name": "x"}}),
        "exactly one of",
    ),
    "input-never-matched": (
        lambda d: _first(d, "kinship-spouse").update({"match": []}),
        "every input must be matched",
    ),
    "match-unknown-input": (
        lambda d: _first(d, "kinship-spouse")["match"][0].update({"input": "nope"}),
        "no input 'nope'",
    ),
    "valid-for-too-long": (
        lambda d: _first(d, "birth").update({"valid_for": 86400}),
        "valid_for",
    ),
    "extra-member": (lambda d: _first(d, "birth").update({"note": "x"}), "Extra inputs"),
    "bad-id": (lambda d: _first(d, "birth").update({"id": "Birth Proof"}), "not a proof type id"),
    "duplicate-id": (lambda d: _first(d, "death").update({"id": "birth"}), "duplicate proof"),
    "bad-pattern": (
        lambda d: _first(d, "kinship-spouse")["inputs"][0].update({"pattern": "(["}),
        "not a regular expression",
    ),
    "bad-slug": (lambda d: _first(d, "birth").update({"answered_by": "Health"}), "issuer slug"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_is_refused_naming_the_entry(case: str) -> None:
    mutate, hint = BROKEN[case]
    data = copy.deepcopy(raw())
    mutate(data)
    with pytest.raises(CatalogueError) as caught:
        parse_proof_types(data, CATALOGUE, source="proofs.json")
    assert hint in caught.value.message
    assert caught.value.message.startswith("proofs.json")


def test_the_packaged_file_parses_to_what_the_loader_gives() -> None:
    assert parse_proof_types(raw(), CATALOGUE) == TYPES
    with pytest.raises(CatalogueError):
        parse_proof_types([], CATALOGUE)
