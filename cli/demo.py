"""``ecert demo``: the whole story once, offline, with files a user can re-run by hand."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from sdjwt.qr_transport import encode_compact
from service.instance import Ecert
from service.settings import Settings
from verifier import Verifier
from wallet import Wallet
from wallet.qr import qr_version, render_png

_MARKER = ".ecert-demo"
#: A fictional citizen (the ID number uses the reserved test area code 110101).
DEMO_CLAIMS = {
    "name": "张三",
    "sex": "男",
    "ethnicity": "汉",
    "birth_date": "1990-03-07",
    "address": "北京市东城区示例路1号",
    "id_number": "110101199003070011",
    "issuing_authority": "北京市公安局东城分局",
    "valid_from": "2020-01-01",
    "valid_until": "2040-01-01",
}
ID_CARD = "urn:ecert:resident-id-card"


def _fresh_folder(out: Path) -> None:
    if out.exists():
        if not (out / _MARKER).exists():
            raise FileExistsError(f"{out} exists and was not made by `ecert demo`; choose -o")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / _MARKER).write_text("created by `ecert demo`; safe to delete\n", encoding="utf-8")


def say(msg: str) -> None:
    """Narrate a step on standard error (results go to standard output)."""
    print(msg, file=sys.stderr)


def run_demo(out: Path) -> int:
    """Issue, present, verify, revoke, verify again; print each step. Returns the exit code."""
    _fresh_folder(out)
    # Its own instance in the output folder, whatever ECERT_* the shell has set.
    inst = Ecert.open(Settings(instance=out / "instance", base_url="https://ecert.example"))
    try:
        platform = inst.platform
        platform.ensure_anchor()
        police = platform.register_issuer(
            "police",
            name_zh="市公安局",
            name_en="City Police Bureau",
            vcts=[ID_CARD, "urn:ecert:residence-permit", "urn:ecert:driving-licence"],
        )
        say(f"1. trust anchor and department ready: {police.iss}")

        wallet = Wallet()
        holder_pem = wallet.holder_key.key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        (out / "holder-key.pem").write_bytes(holder_pem)
        (out / "holder-key.pem").chmod(0o600)
        issued = inst.issuer.issue(
            police.iss,
            ID_CARD,
            subject="citizen-0001",
            claims=DEMO_CLAIMS,
            holder_jwk=wallet.holder_jwk,
        )
        held = wallet.add(issued.sd_jwt)
        (out / "credential.txt").write_text(issued.sd_jwt + "\n", encoding="utf-8")
        say(f"2. resident ID card issued (id {issued.id}) into the citizen's wallet")

        anchor = platform.anchor_jwk()
        (out / "anchor.json").write_text(json.dumps(anchor, indent=2) + "\n", encoding="utf-8")
        bundle = inst.publication.bundle()
        (out / "bundle.json").write_text(json.dumps(bundle) + "\n", encoding="utf-8")
        verifier = Verifier(bundle, anchor=anchor)
        scene = verifier.trust_list.scenes["hotel"]
        presentation = wallet.present_for_scene(held, scene)
        (out / "presentation.txt").write_text(presentation + "\n", encoding="utf-8")
        # The QR carries the compact transport (EC1:…), as the wallet's offline QR does.
        qr_text = encode_compact(presentation)
        (out / "hotel-qr.txt").write_text(qr_text + "\n", encoding="utf-8")
        (out / "hotel-qr.png").write_bytes(render_png(qr_text))
        say(
            f"3. hotel presentation: {len(presentation)} characters, {len(qr_text)} in the "
            f"compact QR transport: QR version {qr_version(qr_text)} at level M, discloses "
            f"only {list(scene.accept[ID_CARD])}"
        )

        result = verifier.verify(qr_text, "hotel")
        say("4. the hotel verifies offline with the bundle:")
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        # The same verifier remembers what it accepted until it expires.
        again = verifier.verify(qr_text, "hotel")
        if again.codes == ["replayed"]:
            say("   the same QR code again at this verifier: refused (replayed)")
        else:
            say(f"   the same QR code again at this verifier: NOT refused ({again.codes})")

        inst.issuer.revoke(police.iss, issued.id)
        bundle = inst.publication.bundle()
        (out / "bundle-after-revocation.json").write_text(json.dumps(bundle) + "\n", "utf-8")
        revoked = Verifier(bundle, anchor=anchor).verify(
            wallet.present_for_scene(held, scene), "hotel"
        )
        say("5. the police revoke the card; with a fresh bundle the hotel sees:")
        print(json.dumps(revoked.to_dict(), ensure_ascii=False, indent=2))
    finally:
        inst.close()
    say(
        f"\nFiles are in {out}/. Check them yourself within 120 s (the QR's lifetime):\n"
        f"  ecert verify --image {out}/hotel-qr.png --bundle {out}/bundle.json "
        f"--anchor {out}/anchor.json --scene hotel --replay-db {out}/seen.db\n"
        f"Run it twice: the second run is refused (replayed), because both runs share "
        f"{out}/seen.db. Without --replay-db each run starts with an empty memory and "
        f"accepts the code again until it expires (an online check, POST /api/v1/verify, "
        f"always refuses a second use).\n"
        f"A new presentation every time:\n"
        f"  ecert present {out}/credential.txt --holder {out}/holder-key.pem --scene hotel "
        f"--bundle {out}/bundle.json --anchor {out}/anchor.json | ecert verify - "
        f"--bundle {out}/bundle.json --anchor {out}/anchor.json"
    )
    ok = result.valid and again.codes == ["replayed"] and revoked.codes == ["revoked"]
    return 0 if ok else 1
