"""QR sizes of every catalogue type, compact transport version 1 against version 2.

Run from the repository root::

    .venv/bin/python bench/qr_sizes.py [--markdown]

For every type of the packaged catalogue (``issuer/data/catalogue.json``), the
hotel-sized and bank-sized presentations of ``tests/qr_sizes.py`` (the reading of
issue 12's targets written there), and the school set (household register and birth
medical certificate with the school's claims, one wallet key, one nonce): the plain
length, the ``EC1:`` and ``EC2:`` lengths (``sdjwt.qr_transport.encode_compact`` with
``version=1`` and the default), and the smallest QR version at level M of both
(``wallet.qr.qr_version``). Every compact text is decoded back to its plain text (a
failure aborts). ``--markdown`` prints the table of docs/formats.md; otherwise one JSON
object. Sizes only, no timings: the salts, keys and signatures are random but of fixed
length, so two runs differ by a character or two at most.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from issuer.catalogue import default_scenes
from sdjwt.qr_transport import decode_compact, encode_compact
from store.sqlite import SQLiteStore
from tests.qr_sizes import SizeWorld, bank_claims, disclosable, hotel_claims
from wallet.qr import qr_version


def measure(plain: str) -> dict[str, int]:
    out = {"plain": len(plain)}
    for version in (1, 2):
        compact = encode_compact(plain, version=version)
        if decode_compact(compact) != plain:
            raise SystemExit(f"EC{version} does not round-trip")
        out[f"ec{version}"] = len(compact)
        out[f"ec{version}_m"] = qr_version(compact, "M")
    return out


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(str(Path(tmp) / "ecert.db"))
        try:
            sizes = SizeWorld(store)
            rows = []
            for ctype in sizes.catalogue.types:
                sized = sizes.sized(ctype)
                rows.append(
                    {
                        "vct": ctype.vct,
                        "sd_claims": len(disclosable(ctype)),
                        "hotel_claims": len(hotel_claims(ctype)),
                        "bank_claims": len(bank_claims(ctype)),
                        "hotel": measure(sized.hotel),
                        "bank": measure(sized.bank),
                    }
                )
            school = {s["id"]: s for s in default_scenes()}["school"]
            entries = [
                (e["vct"], list(e["claims"])) for e in school.get("all_of") or school["accept"]
            ]
            members = sizes.school_set(entries)
            set_text = json.dumps(members, separators=(",", ":"))
            result: dict[str, Any] = {
                "types": rows,
                "school_set": {
                    "members": [vct for vct, _ in entries],
                    "set": {"plain": len(set_text), **_ec2(set_text)},
                    "apart": [_ec2(m) for m in members],
                },
            }
        finally:
            store.close()
    return result


def _ec2(plain: str) -> dict[str, int]:
    compact = encode_compact(plain)
    if decode_compact(compact) != plain:
        raise SystemExit("EC2 does not round-trip")
    return {
        "ec2": len(compact),
        "ec2_m": qr_version(compact, "M"),
        "ec2_l": qr_version(compact, "L"),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| type | sd claims | hotel: EC1 → EC2 chars | QR M | bank: EC1 → EC2 chars | QR M |",
        "| --- | ---: | ---: | --- | ---: | --- |",
    ]
    for row in result["types"]:
        h, b = row["hotel"], row["bank"]
        lines.append(
            f"| `{row['vct'].removeprefix('urn:ecert:')}` | {row['sd_claims']} "
            f"| {h['ec1']:,} → {h['ec2']:,} | {h['ec1_m']} → **{h['ec2_m']}** "
            f"| {b['ec1']:,} → {b['ec2']:,} | {b['ec1_m']} → **{b['ec2_m']}** |"
        )
    hotel = sum(r["hotel"]["ec2"] for r in result["types"])
    hotel1 = sum(r["hotel"]["ec1"] for r in result["types"])
    bank = sum(r["bank"]["ec2"] for r in result["types"])
    bank1 = sum(r["bank"]["ec1"] for r in result["types"])
    count = len(result["types"])
    lines.append(f"| all {count} types | | {hotel1:,} → {hotel:,} | | {bank1:,} → {bank:,} | |")
    school = result["school_set"]
    lines.append("")
    lines.append(
        f"School set ({' + '.join(v.removeprefix('urn:ecert:') for v in school['members'])}): "
        f"{school['set']['plain']:,} plain characters, {school['set']['ec2']:,} as `EC2:`, "
        f"QR version {school['set']['ec2_m']} at M ({school['set']['ec2_l']} at L); its members "
        "apart: "
        + ", ".join(f"{m['ec2']:,} characters (version {m['ec2_m']})" for m in school["apart"])
        + "."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the docs' table")
    args = parser.parse_args()
    result = run()
    print(markdown(result) if args.markdown else json.dumps(result))


if __name__ == "__main__":
    main()
