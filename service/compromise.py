"""A signing key reported compromised, and the re-issue job that follows.

:meth:`KeyCompromise.report` lists the key in ``revoked_kids`` at once (every credential
it signed fails with ``key_compromised`` for verifiers with the new trust list), makes
sure its issuer has another active key at once (:meth:`issuer.Keyring.compromise`), and
starts a job of kind ``reissue`` (:mod:`service.jobs`) with one step per valid
credential the key signed (the registry by issuer and kid):

* a credential in a citizen's wallet is re-issued by :meth:`service.reissue.Reissue.replace`
  with the same claims under the issuer's current key, on every device, and the old one
  revoked; a device copy signed by the key re-issues the card it copies;
* a credential issued to a wallet outside the service (``ecert issue --holder``) cannot
  be re-issued here: its step is ``skipped`` with reason ``not_in_wallet`` and its id is
  in the job's result (``ecert jobs show``) so that the department can contact the holder;
* a wallet whose citizen the directory does not know (made before it, no login since:
  :mod:`service.directory`) is ``skipped`` with reason ``citizen_unknown``.

When every step has ended, each citizen who got a new credential gets one notice ("A
certificate was re-issued for your security"). The new credential's id is derived from
the old one's (HMAC under a key of the instance secret, with an attempt counter noted in
the step before the work): a step run again after a crash, or a second job for the same
key, finds the credential it issued instead of issuing another one.

Reporting the same key again returns the job it already started (a permanent mark).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from issuer import Keyring
from issuer.errors import NoSigningKey
from issuer.keyring import ANCHOR
from keys.b64 import b64url_encode
from keys.models import LocalizedName
from service.changes import SUCCESSOR
from service.directory import CitizenDirectory
from service.jobs import Jobs, Journal, OpenStep, StepResult
from service.notices import Notices
from service.reissue import Reissue
from store.interface import CredentialRecord, JobRecord, Store

__all__ = ["KIND", "REISSUE_IDS_KEY_LABEL", "Compromised", "KeyCompromise", "ReissueHandler"]

#: The job kind of a re-issue after a compromise.
KIND = "reissue"
#: Label of the key new credential ids are derived with (``derive_key(secret, label)``).
REISSUE_IDS_KEY_LABEL = "ecert/reissue-ids/v1"
#: The marks' scope: compromised kid -> the id of the job that re-issues what it signed.
JOB_MARKS = "reissue-job"
#: Attempts at one step's re-issue (another id each time a crash orphaned one).
MAX_ATTEMPTS = 5
#: What the citizen is told, in both languages.
NOTICE_ONE = LocalizedName(
    zh="为保障您的安全，已为您重新签发 1 份证照", en="A certificate was re-issued for your security"
)


def _notice_text(count: int) -> LocalizedName:
    if count == 1:
        return NOTICE_ONE
    return LocalizedName(
        zh=f"为保障您的安全，已为您重新签发 {count} 份证照",
        en=f"{count} certificates were re-issued for your security",
    )


@dataclass(frozen=True, slots=True)
class Compromised:
    """What :meth:`KeyCompromise.report` did: the key now active in its place (None if
    its owner still had one), and the re-issue job (None for the anchor's key)."""

    kid: str
    owner: str
    replacement: str | None
    job: JobRecord | None


class ReissueHandler:
    """Runs ``reissue`` jobs: one wallet credential (or external one) per step."""

    kind = KIND
    chunk = 1

    def __init__(
        self,
        store: Store,
        reissue: Reissue,
        directory: CitizenDirectory,
        notices: Notices,
        id_key: bytes,
        jobs: Jobs,
    ) -> None:
        self._store = store
        self._reissue = reissue
        self._directory = directory
        self._notices = notices
        self._id_key = id_key
        self._jobs = jobs

    def new_id(self, old_id: str, attempt: int) -> str:
        """The id of the credential that replaces ``old_id`` at this attempt."""
        mac = hmac.new(self._id_key, f"{old_id}\0{attempt}".encode(), hashlib.sha256)
        return "rk" + b64url_encode(mac.digest()[:18])

    def run_steps(
        self, job: JobRecord, spec: dict[str, Any], steps: list[OpenStep], journal: Journal
    ) -> list[StepResult]:
        return [self._run(step, journal) for step in steps]

    def _run(self, step: OpenStep, journal: Journal) -> StepResult:
        data = step.data
        if "subject" not in data:
            return StepResult("skipped", {"reason": "not_in_wallet"})
        citizen = self._directory.lookup(data["subject"])
        if citizen is None:
            return StepResult("skipped", {"reason": "citizen_unknown"})
        attempt = int(data.get("attempt", 0))
        if "attempt" not in data:  # write-ahead: the id about to be issued
            (step,) = journal.note([(step, {"attempt": attempt})])
        old = data["credential_id"]
        ours = {self.new_id(old, n) for n in range(MAX_ATTEMPTS)}
        # Claim the card as a change does (the successor mark): a change that replaced it
        # first wins, and a change after this one follows it to the new credential.
        self._store.put_mark(SUCCESSOR, old, self.new_id(old, 0))
        if self._store.get_mark(SUCCESSOR, old) not in ours:
            return StepResult("skipped", {"reason": "superseded"})
        while attempt < MAX_ATTEMPTS:
            new_id = self.new_id(old, attempt)
            if attempt:  # chained after the orphan, as a change follows it
                self._store.put_mark(SUCCESSOR, self.new_id(old, attempt - 1), new_id)
            done = self._reissue.replace(citizen, old, new_id=new_id)
            if done.outcome == "replaced":
                return StepResult("done", {"new": new_id})
            if done.outcome == "skipped":
                return StepResult("skipped", {"reason": done.reason})
            attempt += 1  # orphaned by a crash: note the next id, then try it
            (step,) = journal.note([(step, {"attempt": attempt})])
        return StepResult(
            "failed", {"code": "reissue_orphaned", "message": "every attempt was orphaned"}
        )

    def finished(self, job: JobRecord, spec: dict[str, Any]) -> None:
        """One notice per citizen who got a new credential (its id fixed by the job and
        the citizen: told once even if this runs twice)."""
        renewed: dict[str, list[str]] = {}
        for step in self._jobs.all_steps(job):
            if step.state == "done" and "new" in step.data:
                renewed.setdefault(step.data["subject"], []).append(step.data["new"])
        for subject, new_ids in renewed.items():
            citizen = self._directory.lookup(subject)
            if citizen is None:
                continue
            digest = hashlib.sha256(f"{job.id}\0{subject}".encode()).digest()
            self._notices.add(
                citizen,
                KIND,
                _notice_text(len(new_ids)),
                new_ids,
                notice_id="rk" + b64url_encode(digest[:12]),
            )


class KeyCompromise:
    """Reports keys compromised and starts the re-issue (see the module doc)."""

    def __init__(self, store: Store, keyring: Keyring, jobs: Jobs) -> None:
        self._store = store
        self._keyring = keyring
        self._jobs = jobs

    def report(self, kid: str) -> Compromised:
        """Report ``kid`` compromised and start (or find) its re-issue job.

        Raises :class:`~issuer.errors.NoSigningKey` for an unknown kid.
        """
        record = self._store.get_key(kid)
        if record is None:
            raise NoSigningKey(f"no key with kid {kid}")
        replacement = self._keyring.compromise(kid)
        new_kid = None if replacement is None else replacement.kid
        if record.owner == ANCHOR:
            return Compromised(kid, record.owner, new_kid, None)
        job_id = self._store.get_mark(JOB_MARKS, kid)
        job = None if job_id is None else self._jobs.get(job_id)
        if job is None:
            steps = list(self._affected(record.owner, kid))
            spec = {"issuer": record.owner, "kid": kid}
            job = self._jobs.create(KIND, record.owner, spec, steps, subject=kid)
            if not self._store.put_mark(JOB_MARKS, kid, job.id):
                # Another report won the race: its job is the one shown. Both may run;
                # derived ids make the second find what the first issued.
                other = self._store.get_mark(JOB_MARKS, kid)
                job = (self._jobs.get(other) if other else None) or job
        return Compromised(kid, record.owner, new_kid, job)

    def skipped_ids(self, job: JobRecord) -> list[str]:
        """The ids of the credentials the job could not re-issue because they are held
        outside the service (the department contacts their holders)."""
        return [
            step.data["credential_id"]
            for step in self._jobs.all_steps(job)
            if step.state == "skipped" and step.data.get("reason") == "not_in_wallet"
        ]

    def _affected(self, issuer: str, kid: str) -> Iterator[dict[str, Any]]:
        """One step per wallet credential to re-issue (a device copy counts as its
        card, once), and one per credential held outside the service."""
        seen: set[tuple[str, str]] = set()
        copies: dict[str, dict[str, str]] = {}  # subject -> copy id -> card id
        for record in self._store.list_credentials(issuer=issuer, kid=kid):
            if record.state != "valid":
                continue
            card = self._card_of(record, copies)
            if card is None:
                yield {"credential_id": record.id}
            elif (record.subject, card) not in seen:
                seen.add((record.subject, card))
                yield {"subject": record.subject, "credential_id": card}

    def _card_of(self, record: CredentialRecord, copies: dict[str, dict[str, str]]) -> str | None:
        """The wallet card ``record`` is (itself, or the card a device copy copies), or
        None for a credential no wallet here holds."""
        if self._store.get_wallet_item(record.subject, record.id) is not None:
            return record.id
        if record.subject not in copies:
            copies[record.subject] = {
                c.copy_id: c.credential_id for c in self._store.list_device_copies(record.subject)
            }
        card = copies[record.subject].get(record.id)
        if card is not None and self._store.get_wallet_item(record.subject, card) is not None:
            return card
        return None
