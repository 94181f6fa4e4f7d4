"""hiremate.audit: the audit log as an HMAC chain per organisation, on the
real store through pymongo (edits and deletions made with raw pymongo, as
anyone who can write to the database could)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from bson import ObjectId

from hiremate import audit
from hiremate import db as dbmod
from hiremate.scope import Scope
from hiremate.scope import audit as scope_audit
from tests.conftest import TEST_AUDIT_KEY

KEY = TEST_AUDIT_KEY.encode()


def scope(db, organization_id=None) -> Scope:
    return Scope(db, organization_id or ObjectId(), ObjectId(), is_admin=True)


def log(db, chain: str) -> list[dict]:
    return list(audit.chain_entries(db, chain))


def test_entries_form_a_chain_that_verifies(db):
    acme = scope(db)
    acme.audit("attempt.issued", "attempt", ObjectId(), tasks=3, expires_at=datetime(2030, 1, 2, 3, 4, 5, 678901, UTC))
    acme.audit("attempt.locked", "attempt", ObjectId(), previous_status="in_progress")
    acme.audit("export", "csv", None, kind="candidates", rows=12)
    entries = log(db, str(acme.organization_id))
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev"] == "" and [e["prev"] for e in entries[1:]] == [e["hmac"] for e in entries[:-1]]
    # Microseconds are cut before signing: the store keeps milliseconds only.
    assert entries[0]["details"]["expires_at"].microsecond == 678000
    report = audit.verify_chain(db, str(acme.organization_id))
    assert report.ok and (report.entries, report.head_seq, report.head_hmac) == (3, 3, entries[-1]["hmac"])


def test_the_hmac_is_over_the_canonical_content_with_the_key():
    doc = {"_id": ObjectId(), "b": 1, "a": datetime(2030, 1, 1, tzinfo=UTC), "o": ObjectId("0" * 24), "prev": ""}
    assert audit.canonical(doc) == b'{"a":"2030-01-01T00:00:00.000Z","b":1,"o":"000000000000000000000000","prev":""}'
    assert audit.entry_hmac(KEY, doc) == audit.entry_hmac(KEY, {**doc, "_id": ObjectId(), "hmac": "x"})
    assert audit.entry_hmac(KEY, doc) != audit.entry_hmac(b"another key of at least 32 chars!", doc)
    assert audit.entry_hmac(KEY, doc) != audit.entry_hmac(KEY, {**doc, "prev": "0"})


def test_an_edited_entry_is_named(db):
    acme = scope(db)
    for rows in (1, 2, 3):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    edited = log(db, chain)[1]
    db[dbmod.AUDIT_LOG].update_one({"_id": edited["_id"]}, {"$set": {"details.rows": 999}})
    report = audit.verify_chain(db, chain)
    assert not report.ok
    assert (report.problem.seq, report.problem.id) == (2, str(edited["_id"]))
    assert "changed" in report.problem.reason
    assert report.head_seq == 1  # the last entry that checked out


def test_a_forged_hmac_is_named(db):
    acme = scope(db)
    for rows in (1, 2, 3):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    first = log(db, chain)[0]
    # Without the key a forger cannot make an hmac that matches the content.
    db[dbmod.AUDIT_LOG].update_one({"_id": first["_id"]}, {"$set": {"hmac": "0" * 64}})
    problem = audit.verify_chain(db, chain).problem
    assert (problem.seq, problem.id) == (1, str(first["_id"]))


def test_a_deleted_middle_entry_is_found_as_a_gap(db):
    acme = scope(db)
    for rows in range(5):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    entries = log(db, chain)
    db[dbmod.AUDIT_LOG].delete_one({"_id": entries[2]["_id"]})
    problem = audit.verify_chain(db, chain).problem
    assert (problem.seq, problem.id) == (4, str(entries[3]["_id"]))
    assert "seq 3 missing" in problem.reason


def test_a_deleted_first_entry_is_found(db):
    acme = scope(db)
    for rows in range(2):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    entries = log(db, chain)
    db[dbmod.AUDIT_LOG].delete_one({"_id": entries[0]["_id"]})
    problem = audit.verify_chain(db, chain).problem
    assert (problem.seq, problem.id) == (2, str(entries[1]["_id"]))


def test_a_deleted_newest_entry_shows_as_an_older_head(db):
    acme = scope(db)
    for rows in range(3):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    recorded = audit.verify_chain(db, chain)
    db[dbmod.AUDIT_LOG].delete_one({"_id": log(db, chain)[-1]["_id"]})
    found = audit.verify_chain(db, chain)
    assert not found.ok and found.problem.reason == "entry 3 was removed (the chain's noted head is 3)"
    # Removing the noted head too leaves an intact, shorter chain: only a head recorded elsewhere tells.
    db[dbmod.AUDIT_HEADS].delete_one({"_id": chain})
    now = audit.verify_chain(db, chain)
    assert now.ok
    assert (now.head_seq, now.head_hmac) != (recorded.head_seq, recorded.head_hmac)
    assert now.head_seq == recorded.head_seq - 1


def test_an_append_after_a_removed_newest_entry_leaves_the_gap_to_be_found(db):
    acme = scope(db)
    for rows in range(3):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    db[dbmod.AUDIT_LOG].delete_one({"_id": log(db, chain)[-1]["_id"]})
    acme.audit("export", "csv", None, kind="candidates", rows=9)  # continues from the noted head
    assert [entry["seq"] for entry in log(db, chain)] == [1, 2, 4]
    found = audit.verify_chain(db, chain)
    assert not found.ok and found.problem.seq == 4 and "missing" in found.problem.reason


def test_appends_read_the_noted_head_not_the_whole_chain(db):
    acme = scope(db)
    for rows in range(5):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
    chain = str(acme.organization_id)
    noted = db[dbmod.AUDIT_HEADS].find_one({"_id": chain})
    assert (noted["seq"], noted["hmac"]) == (5, log(db, chain)[-1]["hmac"])
    # A writer that died before noting its head: the next append reads forward from the note.
    db[dbmod.AUDIT_HEADS].update_one({"_id": chain}, {"$set": {"seq": 3, "hmac": log(db, chain)[2]["hmac"]}})
    acme.audit("export", "csv", None, kind="candidates", rows=6)
    assert [entry["seq"] for entry in log(db, chain)] == [1, 2, 3, 4, 5, 6]
    assert audit.verify_chain(db, chain).ok and db[dbmod.AUDIT_HEADS].find_one({"_id": chain})["seq"] == 6


def test_another_organisations_chain_is_unaffected(db):
    acme, other = scope(db), scope(db)
    for rows in range(3):
        acme.audit("export", "csv", None, kind="candidates", rows=rows)
        other.audit("export", "csv", None, kind="candidates", rows=rows)
    acme_chain, other_chain = str(acme.organization_id), str(other.organization_id)
    assert [e["seq"] for e in log(db, other_chain)] == [1, 2, 3]
    db[dbmod.AUDIT_LOG].delete_one({"_id": log(db, acme_chain)[1]["_id"]})
    reports = {report.chain: report for report in audit.verify_all(db)}
    assert not reports[acme_chain].ok
    assert reports[other_chain].ok and reports[other_chain].entries == 3


def test_entries_of_no_organisation_form_the_system_chain(db):
    scope_audit(db, "auth.login_failed", organization_id=None, account="ab" * 16, failures=1)
    scope_audit(db, "retention.purged", organization_id=None, removed={"sessions": 2})
    entries = log(db, audit.SYSTEM_CHAIN)
    assert [(e["seq"], e["organization_id"]) for e in entries] == [(1, None), (2, None)]
    reports = audit.verify_all(db)
    assert reports[0].chain == audit.SYSTEM_CHAIN and reports[0].ok and reports[0].entries == 2
    db[dbmod.AUDIT_LOG].update_one({"_id": entries[0]["_id"]}, {"$set": {"details.failures": 0}})
    assert audit.verify_chain(db, audit.SYSTEM_CHAIN).problem.seq == 1


def test_verifying_with_another_key_fails_at_the_first_entry(db):
    scope(db).audit("export", "csv", None, kind="candidates", rows=1)
    [report] = [r for r in audit.verify_all(db, key=b"k" * 32) if r.chain != audit.SYSTEM_CHAIN]
    assert report.problem.seq == 1


def legacy_entry(db, organization_id, action: str, **details) -> ObjectId:
    """An entry as written before chains existed."""
    doc = {
        "organization_id": organization_id,
        "actor_id": None,
        "action": action,
        "target_type": None,
        "target_id": None,
        "at": datetime.now(UTC),
        "details": details,
    }
    return db[dbmod.AUDIT_LOG].insert_one(doc).inserted_id


def test_the_migration_chains_older_entries_in_id_order_once(db):
    acme = ObjectId()
    legacy = [legacy_entry(db, acme, "export", rows=n) for n in range(3)]
    system = legacy_entry(db, None, "auth.login_failed", account="cd" * 16)
    # Unchained entries are not trusted by verification.
    stray = {r.chain: r for r in audit.verify_all(db)}
    assert stray[str(acme)].problem.id == str(legacy[0]) and "outside the chain" in stray[str(acme)].problem.reason
    # An entry appended by new code before the migration ran keeps seq 1;
    # the older entries are chained after it, in _id order.
    scope(db, acme).audit("export", "csv", None, kind="candidates", rows=9)
    assert audit.migrate(db) == 4
    entries = log(db, str(acme))
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert [e["_id"] for e in entries[1:]] == legacy
    assert [e["_id"] for e in log(db, audit.SYSTEM_CHAIN)] == [system]
    assert all(r.ok for r in audit.verify_all(db))
    assert audit.migrate(db) == 0  # idempotent
    assert [e["hmac"] for e in log(db, str(acme))] == [e["hmac"] for e in entries]


def test_appends_race_through_the_compare_and_set_without_gaps(db):
    organization_id = ObjectId()
    threads, each = 6, 12  # contention enough: every round has losers (8 x 25 measured once: no gap either)
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(each):
                scope_audit(db, "export", organization_id=organization_id, writer=n, i=i)
        except BaseException as exc:  # reported below
            failures.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    entries = log(db, str(organization_id))
    assert [e["seq"] for e in entries] == list(range(1, threads * each + 1))
    report = audit.verify_chain(db, str(organization_id))
    assert report.ok and report.head_seq == threads * each


def test_the_unique_index_refuses_a_second_entry_at_a_seq(db):
    from pymongo.errors import DuplicateKeyError

    scope_audit(db, "export", organization_id=None)
    with pytest.raises(DuplicateKeyError):
        db[dbmod.AUDIT_LOG].insert_one({"chain": audit.SYSTEM_CHAIN, "seq": 1})


# ---------------------------------------------------------------- what entries may hold


def test_entries_hold_no_names_emails_or_free_text(db, monkeypatch):
    from hiremate import auth, reports
    from hiremate.attempts import lock_attempt
    from hiremate.errors import Refusal
    from tests.hiremate.test_dashboard import issue, library

    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)
    password = "a-long-passphrase-9"
    admin = auth.register(
        db, email="ada@acme.test", full_name="Ada Lovelace", password=password, organization_name="Acme Hiring"
    )
    acme = auth.scope_for(db, admin)
    invitation = auth.invite(acme, "rita.invited@acme.test")
    auth.revoke_invitation(acme, db[dbmod.INVITATIONS].find_one({})["_id"])
    assert invitation
    for email in ("ada@acme.test", "nobody.known@elsewhere.test"):
        with pytest.raises(Refusal):
            auth.authenticate(db, email, "wrong-password-1", client_key="client")
    tasks = library(acme)
    attempt = issue(acme, tasks, "Grace Hopper")
    lock_attempt(acme, attempt.id, "withdrew after a phone call with Bob")
    reports.candidates_csv(acme, date_from=None, date_to=None, position="Analyst")

    forbidden = [
        "ada@acme.test",
        "Ada Lovelace",
        "rita.invited@acme.test",
        "nobody.known@elsewhere.test",
        "Grace Hopper",
        "grace@example.com",
        "withdrew after a phone call",
        "Analyst",
        *(task.title for task in tasks),
    ]
    entries = list(db[dbmod.AUDIT_LOG].find({}))
    actions = {entry["action"] for entry in entries}
    assert {"user.invite_revoked", "auth.login_failed", "task.created", "attempt.locked", "export"} <= actions
    for entry in entries:
        text = audit.canonical(entry).decode()
        assert "@" not in text, entry
        for value in forbidden:
            assert value not in text, (value, entry["action"])
    assert all(report.ok for report in audit.verify_all(db))
