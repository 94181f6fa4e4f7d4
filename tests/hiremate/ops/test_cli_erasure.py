"""``python -m hiremate erase``, ``export-candidate`` and ``purge``: the
receipt, the export and the report as JSON; refusals in one line, exit 2."""

from __future__ import annotations

import json
import os

from hiremate import db as dbmod
from hiremate import erasure
from tests.hiremate.ops.test_cli import cli, env, hiremate  # noqa: F401
from tests.support.page_helpers import _fast_bcrypt, make_org, seed_completed  # noqa: F401

EMAIL = "zebulon.quixote@example.com"


def seeded(db):
    org = make_org(db)
    attempt = seed_completed(org, name="Zebulon Quixote", email=EMAIL)
    slug = db[dbmod.ORGANIZATIONS].find_one({"_id": org.scope.organization_id})["slug"]
    return org, attempt, slug


def test_erase_prints_the_receipt_and_removes_the_candidate(db, hiremate):  # noqa: F811
    org, attempt, slug = seeded(db)
    other = seed_completed(org, name="Ada Lovelace", email="ada@example.com")

    result = hiremate("erase", "--org", slug, "--email", EMAIL, "--yes")

    assert result.returncode == 0, result.stderr
    receipt = json.loads(result.stdout)
    assert receipt["attempts"] == [str(attempt.id)] and receipt["by"] == "command line"
    assert receipt["removed"]["task_attempts"] == 1 and receipt["removed"]["behavior_events"] > 0
    assert EMAIL not in result.stdout and "Zebulon" not in result.stdout
    assert db[dbmod.ATTEMPTS].find_one({"_id": attempt.id}) is None
    assert db[dbmod.ATTEMPTS].find_one({"_id": other.id}) is not None
    entry = db[dbmod.AUDIT_LOG].find_one({"action": erasure.ERASED})
    assert entry["details"]["via"] == "cli" and entry["actor_id"] is None


def test_erase_refuses_without_yes_and_names_an_unknown_org_or_email(db, cli):  # noqa: F811
    _, attempt, slug = seeded(db)

    refused = cli("erase", "--org", slug, "--email", EMAIL)
    assert refused.returncode == 2 and "--yes" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert db[dbmod.ATTEMPTS].find_one({"_id": attempt.id}) is not None

    unknown_org = cli("erase", "--org", "nowhere", "--email", EMAIL, "--yes")
    assert (
        unknown_org.returncode == 2
        and unknown_org.stderr.strip() == "error: no organisation with slug or name 'nowhere'"
    )
    unknown_email = cli("erase", "--org", slug, "--email", "nobody@example.com", "--yes")
    assert unknown_email.returncode == 2 and "No candidate with the email nobody@example.com" in unknown_email.stderr
    assert len(unknown_email.stderr.strip().splitlines()) == 1
    assert db[dbmod.ATTEMPTS].find_one({"_id": attempt.id}) is not None


def test_export_candidate_writes_the_persons_data_and_prints_the_explanation(db, cli, tmp_path):  # noqa: F811
    org, attempt, slug = seeded(db)
    seed_completed(org, name="Ada Lovelace", email="ada@example.com")
    out = tmp_path / "export.json"

    written = cli("export-candidate", "--org", slug, "--email", EMAIL, "--out", str(out))

    assert written.returncode == 0, written.stderr
    document = json.loads(out.read_text())
    assert [item["attempt"]["_id"] for item in document["attempts"]] == [str(attempt.id)]
    assert "ada@example.com" not in out.read_text() and document["explanation"]
    assert os.stat(out).st_mode & 0o077 == 0
    printed = cli("export-candidate", "--org", slug, "--email", EMAIL, "--explanation")
    assert printed.returncode == 0 and printed.stdout.startswith("What ") and "version" in printed.stdout
    assert db[dbmod.AUDIT_LOG].count_documents({"action": erasure.EXPORTED}) == 2


def test_purge_prints_its_report_and_a_dry_run_removes_nothing(db, cli):  # noqa: F811
    seeded(db)
    before = db[dbmod.ATTEMPTS].count_documents({})

    dry = cli("purge", "--dry-run")
    done = cli("purge")

    assert dry.returncode == 0 and json.loads(dry.stdout)["purge"] == "dry run: nothing removed"
    assert done.returncode == 0 and json.loads(done.stdout)["organizations"][0]["removed"]["task_attempts"] == 0
    assert db[dbmod.ATTEMPTS].count_documents({}) == before
