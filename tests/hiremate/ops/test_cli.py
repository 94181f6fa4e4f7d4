"""``python -m hiremate`` in a subprocess against the test store, plus the
demo seed and .env.example it documents."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from bson import ObjectId

from hiremate import attempt_counts, auth, reports
from hiremate import db as dbmod
from hiremate.attempts import complete, find_by_token, hash_secret
from hiremate.ops.cli import main
from hiremate.ops.demo import (
    DEMO_CANDIDATES,
    DEMO_EMAIL,
    DEMO_FULL_NAME,
    DEMO_ORG_NAME,
    DEMO_ORG_SLUG,
    PUBLISHED_DEMO_PASSWORD,
    demo_candidate_ids,
    demo_password,
    seed_demo,
)
from hiremate.scope import Scope
from hiremate.settings import env_example
from hiremate.task_library import LIBRARY, install_library
from hiremate.timeutil import parse_iso, utcnow
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET
from tests.support.builders import start_attempt
from tests.support.concurrency import at_once
from tests.support.page_helpers import PASSWORD as PAGE_PASSWORD
from tests.support.smtp import smtp_server  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[3]
PUBLIC_URL = "https://assess.example"
PASSWORD = "demo-pass-1234"  # what seed_demo is given here (make run: the data folder's demo_password)


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch):
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)  # in this process only; the CLI hashes for real


@pytest.fixture
def env(store_uri, db_name, db, tmp_path):
    """The environment of a HireMate process that uses this test's database."""
    base = {name: value for name, value in os.environ.items() if not name.startswith("HIREMATE_")}
    return base | {
        "HIREMATE_MONGODB_URI": store_uri,
        "HIREMATE_DB_NAME": db_name,
        "HIREMATE_DATA_DIR": str(tmp_path),
        "HIREMATE_SECRET": TEST_SECRET,
        "HIREMATE_AUDIT_KEY": TEST_AUDIT_KEY,
        "HIREMATE_PUBLIC_URL": PUBLIC_URL,
    }


@pytest.fixture
def hiremate(env):
    def run(*args, stdin="", environment=None):
        return subprocess.run(
            [sys.executable, "-m", "hiremate", *args],
            cwd=ROOT,
            env=environment or env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def cli(app_env, monkeypatch, capsys):
    """The same command in this process (quicker, for the many ways input can be wrong)."""

    def run(*args, stdin=""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse refusing the command line
            code = exit_.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def counts(db):
    return {name: db[name].count_documents({}) for name in (dbmod.ORGANIZATIONS, dbmod.USERS, dbmod.TASKS)}


SEEDED = {dbmod.ORGANIZATIONS: 1, dbmod.USERS: 1, dbmod.TASKS: len(LIBRARY)}
SIMULATED = (dbmod.ATTEMPTS, dbmod.METRICS, dbmod.PROFILES)


def simulated_counts(db):
    return {name: db[name].count_documents({}) for name in (*SIMULATED, dbmod.EVENTS)}


def assert_demo_candidates_complete(db, organization_id):
    """A dozen completed attempts over the demo's library tasks, each stored
    once with its events (one gapless sequence), metrics and profile, and
    counted as a recount counts them."""
    assert {name: db[name].count_documents({}) for name in SIMULATED} == dict.fromkeys(SIMULATED, DEMO_CANDIDATES)
    library = {doc["_id"]: doc["title"] for doc in db[dbmod.TASKS].find({"organization_id": organization_id})}
    for attempt in db[dbmod.ATTEMPTS].find({}):
        assert attempt["_id"] in demo_candidate_ids(organization_id)
        assert attempt["organization_id"] == organization_id and attempt["status"] == "completed"
        assert set(attempt["task_ids"]) <= set(library)
        profile = db[dbmod.PROFILES].find_one({"attempt_id": attempt["_id"]})
        assert profile["organization_id"] == organization_id and profile["position"]
        sequence = sorted(e["sequence_number"] for e in db[dbmod.EVENTS].find({"attempt_id": attempt["_id"]}))
        assert sequence == list(range(1, len(sequence) + 1)) and len(sequence) > 20
    as_seeded = attempt_counts.by_position_status(db, organization_id)
    assert sum(as_seeded.values()) == DEMO_CANDIDATES
    attempt_counts.recount(db, organization_id)
    assert attempt_counts.by_position_status(db, organization_id) == as_seeded


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------- seed-demo


def test_seed_demo_twice_duplicates_nothing(db, hiremate, tmp_path):
    first = hiremate("seed-demo")
    assert first.returncode == 0, first.stderr
    assert f"{len(LIBRARY)} library tasks added, {DEMO_CANDIDATES} simulated candidates added" in first.stdout
    assert counts(db) == SEEDED
    simulated = simulated_counts(db)
    assert simulated[dbmod.ATTEMPTS] == DEMO_CANDIDATES

    second = hiremate("seed-demo")
    assert second.returncode == 0, second.stderr
    assert "already present" in second.stdout
    assert counts(db) == SEEDED
    assert simulated_counts(db) == simulated

    organization = db[dbmod.ORGANIZATIONS].find_one({})
    assert (organization["name"], organization["slug"]) == (DEMO_ORG_NAME, DEMO_ORG_SLUG)
    # The login it printed is the data folder's random password, the same both times.
    password = demo_password(tmp_path)
    assert f"demo login      {DEMO_EMAIL} / {password}" in first.stdout
    assert f"demo login      {DEMO_EMAIL} / {password}" in second.stdout
    assert password != PUBLISHED_DEMO_PASSWORD
    user = auth.authenticate(db, DEMO_EMAIL, password)
    assert user.full_name == DEMO_FULL_NAME and user.role == "admin"
    assert user.organization_id == organization["_id"]
    assert db[dbmod.TASKS].count_documents({"organization_id": organization["_id"]}) == len(LIBRARY)
    assert_demo_candidates_complete(db, organization["_id"])
    # Their profiles show the library's task titles.
    titles = {task.title for task in LIBRARY.values()}
    for attempt in db[dbmod.ATTEMPTS].find({}):
        assert {snapshot["title"] for snapshot in attempt["task_snapshots"]} <= titles


def test_seed_demo_reports_what_it_did(db):
    result = seed_demo(db, PASSWORD)
    assert result.organization_created and result.user_created and result.tasks_added == len(LIBRARY)
    assert result.candidates_added == DEMO_CANDIDATES
    assert "created" in str(result)

    again = seed_demo(db, PASSWORD)
    assert (again.organization_id, again.user_id) == (result.organization_id, result.user_id)
    assert not (again.organization_created or again.user_created or again.tasks_added or again.candidates_added)
    assert "already present" in str(again)


def test_seed_demo_adds_only_the_candidates_missing(db):
    """A demo seeded before it had candidates gets them at the next start
    (once); here a demo that lacks five of them gets those five."""
    result = seed_demo(db, PASSWORD)
    first_ids = demo_candidate_ids(result.organization_id)
    db[dbmod.ATTEMPTS].delete_many({"_id": {"$in": first_ids[:5]}})
    for name in (dbmod.EVENTS, dbmod.METRICS, dbmod.PROFILES):
        db[name].delete_many({"attempt_id": {"$in": first_ids[:5]}})

    again = seed_demo(db, PASSWORD)

    assert again.candidates_added == 5 and not again.tasks_added
    assert "5 simulated candidates added" in str(again)
    assert_demo_candidates_complete(db, result.organization_id)


def test_demo_candidates_are_only_simulated_over_active_library_tasks(db):
    result = seed_demo(db, PASSWORD)
    db[dbmod.ATTEMPTS].delete_many({})
    db[dbmod.TASKS].update_many({}, {"$set": {"is_active": False}})
    assert seed_demo(db, PASSWORD).candidates_added == 0
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0
    assert result.candidates_added == DEMO_CANDIDATES


def test_concurrent_seeds_create_one_of_everything(db):
    results = at_once(3, lambda: seed_demo(db, PASSWORD))

    assert len(results) == 3
    assert counts(db) == SEEDED
    assert sum(r.organization_created for r in results) == 1 and sum(r.user_created for r in results) == 1
    assert sum(r.tasks_added for r in results) == len(LIBRARY)
    assert sum(r.candidates_added for r in results) == DEMO_CANDIDATES
    assert_demo_candidates_complete(db, results[0].organization_id)


# ---------------------------------------------------------------- issue


def test_issue_prints_one_json_line_whose_token_hash_is_stored(db, hiremate):
    seed_demo(db, PASSWORD)

    result = hiremate("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com",
                      "--position", "Analyst", "--sample", "3", "--difficulty", "medium")  # fmt: skip

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    issued = json.loads(line)
    assert set(issued) == {"attempt_id", "token", "link", "expires_at"}
    assert issued["link"] == f"{PUBLIC_URL}/a/{issued['token']}"
    doc = db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(issued["attempt_id"])})
    assert doc["token_hash"] == hash_secret(issued["token"])
    assert issued["token"] not in json.dumps(doc, default=str)
    assert doc["candidate_info"] == {
        "name": "Ada",
        "email": "ada@example.com",
        "phone": None,
        "position": "Analyst",
        "resume_url": None,
    }
    assert len(doc["task_ids"]) == 3 and {t["difficulty"] for t in doc["task_snapshots"]} == {"medium"}
    assert parse_iso(issued["expires_at"]) == doc["expires_at"]
    assert timedelta(days=6, hours=23) < doc["expires_at"] - utcnow() <= timedelta(days=7)


def test_issue_by_task_ids_keeps_their_order(db, hiremate):
    seed_demo(db, PASSWORD)
    second, first = (str(doc["_id"]) for doc in db[dbmod.TASKS].find({}).sort("_id", 1).limit(2))

    result = hiremate("issue", "--candidate-name", "Grace", "--candidate-email", "grace@example.com",
                      "--task-id", first, "--task-id", second, "--expires-days", "2", "--org", "demo")  # fmt: skip

    assert result.returncode == 0, result.stderr
    issued = json.loads(result.stdout)
    doc = db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(issued["attempt_id"])})
    assert [str(task_id) for task_id in doc["task_ids"]] == [first, second]
    assert doc["expires_at"] - doc["created_at"] == timedelta(days=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sample", "99"], "asked for 99 tasks but only"),
        (["--sample", "0"], "must be at least 1"),
        (["--sample", "two"], "not a whole number"),
        (["--task-id", "nonsense"], "not a task id: nonsense"),
        (["--task-id", "0" * 24], "unknown or inactive task"),
        (["--sample", "1", "--org", "nowhere"], "no organisation with slug 'nowhere'"),
        (["--task-id", "0" * 24, "--category", "communication"], "only apply with --sample"),
        (["--sample", "1", "--category", "cooking"], "invalid choice: 'cooking'"),
        (["--sample", "1", "--task-id", "0" * 24], "not allowed with argument"),
        ([], "one of the arguments --task-id --sample --kit is required"),
        (["--sample", "1", "--expires-days", "-3"], "must be at least 1"),
        (["--sample", "1", "--time-multiplier", "5"], "invalid accommodation: time_multiplier"),
        (["--sample", "1", "--time-multiplier", "1.1"], "invalid accommodation: time_multiplier"),
        (["--sample", "1", "--time-multiplier", "2", "--untimed"], "not allowed with argument"),
    ],
)
def test_issue_refuses_bad_input_with_one_line_and_exit_code_2(db, cli, args, message):
    seed_demo(db, PASSWORD)

    result = cli("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com", *args)

    assert result.returncode == 2
    assert message in one_error_line(result)
    assert result.stdout == ""
    assert db[dbmod.ATTEMPTS].count_documents({}) == DEMO_CANDIDATES  # the demo's simulated ones only


def test_issue_with_accommodations_stores_them_on_the_attempt(db, cli):
    seed_demo(db, PASSWORD)

    result = cli("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com", "--sample", "1",
                 "--time-multiplier", "1.5", "--assistive-technology", "--accommodation-note", "screen reader")  # fmt: skip

    assert result.returncode == 0, result.stderr
    doc = db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(json.loads(result.stdout)["attempt_id"])})
    assert doc["accommodations"] == {
        "time_multiplier": 1.5,
        "untimed": False,
        "assistive_technology": True,
        "note": "screen reader",
    }
    plain = cli("issue", "--candidate-name", "Bo", "--candidate-email", "bo@example.com", "--sample", "1")
    assert (
        db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(json.loads(plain.stdout)["attempt_id"])})["accommodations"] is None
    )


@pytest.mark.parametrize("email", ["bad", "ada@", "ada @example.com", "ada@localhost", "a@b@example.com"])
def test_issue_refuses_a_candidate_email_that_is_not_an_address(db, cli, email):
    """Found attacking the stack: `issue --candidate-email bad` stored "bad"."""
    seed_demo(db, PASSWORD)

    result = cli("issue", "--candidate-name", "Ada", "--candidate-email", email, "--sample", "1")

    assert result.returncode == 2
    assert "candidate_email" in one_error_line(result) or "email" in one_error_line(result)
    assert result.stdout == ""
    assert db[dbmod.ATTEMPTS].count_documents({}) == DEMO_CANDIDATES


def test_issue_stores_the_candidate_email_lower_case(db, cli):
    seed_demo(db, PASSWORD)

    result = cli(
        "issue", "--candidate-name", "Ada", "--candidate-email", "  Ada.Lovelace@Example.COM ", "--sample", "1"
    )

    assert result.returncode == 0, result.stderr
    doc = db[dbmod.ATTEMPTS].find_one({"_id": ObjectId(json.loads(result.stdout)["attempt_id"])})
    assert doc["candidate_info"]["email"] == "ada.lovelace@example.com"


def test_issue_without_the_demo_organisation_says_how_to_get_it(db, cli):
    result = cli("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com", "--sample", "1")
    assert result.returncode == 2
    assert "run `python -m hiremate seed-demo` first" in one_error_line(result)


# ---------------------------------------------------------------- create-user


def test_create_user_reads_the_password_from_standard_input(db, hiremate):
    result = hiremate("create-user", "--email", "Lin@Acme.test", "--name", "Lin Wu", "--org", "Acme Hiring",
                      "--role", "admin", stdin="a-long-passphrase-9\n")  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "created organisation 'Acme Hiring' (slug acme-hiring)" in result.stdout
    user = auth.authenticate(db, "lin@acme.test", "a-long-passphrase-9")
    assert user.role == "admin" and user.full_name == "Lin Wu"

    # The organisation is found again by its slug (or its name): no second one.
    again = hiremate("create-user", "--email", "max@acme.test", "--name", "Max", "--org", "acme-hiring",
                     stdin="another-passphrase-4")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "created organisation" not in again.stdout
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == 1
    assert auth.authenticate(db, "max@acme.test", "another-passphrase-4").role == "recruiter"


@pytest.mark.parametrize(
    ("email", "stdin", "message"),
    [
        ("lin@acme.test", "", "no password given"),
        ("lin@acme.test", "short\n", "password too weak"),
        ("not-an-email", "a-long-passphrase-9\n", "valid email"),
    ],
)
def test_create_user_refuses_bad_input(db, cli, email, stdin, message):
    result = cli("create-user", "--email", email, "--name", "Lin", "--org", "acme", stdin=stdin)

    assert result.returncode == 2
    assert message in one_error_line(result)
    assert db[dbmod.USERS].count_documents({}) == 0


def test_create_user_refuses_a_taken_email(db, cli):
    seed_demo(db, PASSWORD)
    result = cli("create-user", "--email", DEMO_EMAIL, "--name", "Someone", "--org", "demo",
                      stdin="a-long-passphrase-9\n")  # fmt: skip
    assert result.returncode == 2
    assert "already exists" in one_error_line(result)
    assert db[dbmod.USERS].count_documents({}) == 1


# ---------------------------------------------------------------- recompute and errors


def test_recompute_one_attempt_and_all(db, hiremate):
    seed_demo(db, PASSWORD)
    issued = json.loads(hiremate("issue", "--candidate-name", "Ada", "--candidate-email", "a@example.com",
                                 "--sample", "2").stdout)  # fmt: skip
    attempt, _ = start_attempt(db, find_by_token(db, issued["token"]))

    not_ended = hiremate("recompute", "--attempt", issued["attempt_id"])
    assert not_ended.returncode == 2 and "has not ended" in one_error_line(not_ended)

    complete(db, attempt.id, completed_at=utcnow())
    one = hiremate("recompute", "--attempt", issued["attempt_id"])
    assert one.returncode == 0, one.stderr
    # no profile yet: computed with the latest rules
    assert one.stdout.strip() == "recomputed 1 attempt (rules 1.2.0)"
    assert db[dbmod.PROFILES].count_documents({"attempt_id": attempt.id}) == 1
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "attempt.recomputed"}) == 1
    assert db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})["version"] == "1.2.0"

    # An old profile is reproduced under the rules that made it.
    old = hiremate("recompute", "--attempt", issued["attempt_id"], "--rules", "1.0.0")
    assert old.returncode == 0, old.stderr
    assert db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})["version"] == "1.0.0"
    assert db[dbmod.METRICS].find_one({"attempt_id": attempt.id})["version"] == "1.0.0"


def test_recompute_keeps_the_recorded_rule_version_unless_given_latest(db, hiremate):
    seed_demo(db, PASSWORD)
    issued = json.loads(hiremate("issue", "--candidate-name", "Ada", "--candidate-email", "a@example.com",
                                 "--sample", "2").stdout)  # fmt: skip
    attempt, _ = start_attempt(db, find_by_token(db, issued["token"]))
    complete(db, attempt.id, completed_at=utcnow())
    assert hiremate("recompute", "--attempt", issued["attempt_id"], "--rules", "1.1.0").returncode == 0
    demo = db[dbmod.PROFILES].find_one({"attempt_id": {"$ne": attempt.id}})
    db[dbmod.PROFILES].update_one({"_id": demo["_id"]}, {"$set": {"version": "1.0.0"}})

    def versions() -> tuple[str, set[str]]:
        ours = db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})["version"]
        return ours, {doc["version"] for doc in db[dbmod.PROFILES].find({"attempt_id": {"$ne": attempt.id}})}

    kept = hiremate("recompute", "--attempt", issued["attempt_id"])
    assert kept.stdout.strip() == "recomputed 1 attempt (rules 1.1.0)"
    assert versions()[0] == "1.1.0"
    audit = db[dbmod.AUDIT_LOG].find_one({"action": "attempt.recomputed"}, sort=[("_id", -1)])
    assert "1.1.0" in json.dumps(audit, default=str)

    everything = hiremate("recompute", "--all")
    assert everything.returncode == 0, everything.stderr
    assert versions() == ("1.1.0", {"1.0.0", "1.2.0"})  # each kept its own
    assert db[dbmod.PROFILES].find_one({"_id": demo["_id"]})["version"] == "1.0.0"

    upgraded = hiremate("recompute", "--all", "--rules", "latest")
    assert upgraded.returncode == 0, upgraded.stderr
    assert versions() == ("1.2.0", {"1.2.0"})
    assert db[dbmod.METRICS].distinct("version") == ["1.2.0"]


def test_recompute_all_counts_every_ended_attempt(db, hiremate):
    seed_demo(db, PASSWORD)
    issued = json.loads(hiremate("issue", "--candidate-name", "Ada", "--candidate-email", "a@example.com",
                                 "--sample", "2").stdout)  # fmt: skip
    attempt, _ = start_attempt(db, find_by_token(db, issued["token"]))
    complete(db, attempt.id, completed_at=utcnow())
    everything = hiremate("recompute", "--all")
    assert everything.returncode == 0, everything.stderr
    total = DEMO_CANDIDATES + 1  # with the demo's simulated candidates
    assert re.fullmatch(rf"recomputed {total} attempts in \d+ s \([\d,]+ attempts/s\)", everything.stdout.strip())
    assert f"{total}/{total}" in everything.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--attempt", "nonsense"], "not an attempt id: 'nonsense'"),
        (["--attempt", "0" * 24], "no attempt with id"),
        ([], "one of the arguments --attempt --all is required"),
        (["--all", "--rules", "0.9"], "no rule version '0.9'; there are 1.0.0, 1.1.0, 1.2.0 (or latest)"),
    ],
)
def test_recompute_refuses_bad_input(cli, args, message):
    result = cli("recompute", *args)
    assert result.returncode == 2
    assert message in one_error_line(result)


def test_recount_repairs_the_counters_the_pages_read(db, cli):
    seed_demo(db, PASSWORD)
    issued = json.loads(cli("issue", "--candidate-name", "Ada", "--candidate-email", "a@example.com",
                            "--position", "Analyst", "--sample", "2").stdout)  # fmt: skip
    org = db[dbmod.ORGANIZATIONS].find_one({"slug": DEMO_ORG_SLUG})["_id"]
    assert attempt_counts.by_status(db, org)["pending"] == 1
    # What a process killed between a transition and its $inc leaves behind.
    db[dbmod.ATTEMPT_COUNTS].update_many({"organization_id": org, "kind": "status"}, {"$inc": {"n": 5}})
    assert attempt_counts.by_status(db, org)["pending"] == 6

    result = cli("recount", "--organization", str(org))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"recounted {DEMO_CANDIDATES + 1} attempts in 1 organisation; norms rebuilt from {DEMO_CANDIDATES} profiles"
    )
    assert attempt_counts.by_status(db, org)["pending"] == 1
    assert attempt_counts.by_status(db, org)["completed"] == DEMO_CANDIDATES
    pending = {key: n for key, n in attempt_counts.by_position_status(db, org).items() if key[1] == "pending"}
    assert pending == {("Analyst", "pending"): 1}
    assert issued["attempt_id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--organization", "nonsense"], "not an organisation id: 'nonsense'"),
        (["--organization", str(ObjectId())], "no organisation with id"),
    ],
)
def test_recount_refuses_bad_input(cli, args, message):
    result = cli("recount", *args)
    assert result.returncode == 2
    assert message in one_error_line(result)


# ---------------------------------------------------------------- simulate


def organization_with_library(db, name="Acme Hiring"):
    organization = auth.create_organization(db, name)
    install_library(Scope(db, organization.id, None, is_admin=True))
    attempt_counts.recount(db, organization.id)  # counted (empty): reads below show what simulate wrote
    return organization


def counters(db, org):
    return (
        attempt_counts.by_position_status(db, org),
        attempt_counts.duration_histogram(db, org),
        attempt_counts.completed_since(db, org, utcnow() - timedelta(days=365)),
    )


def test_simulate_stores_completed_candidates_with_profiles_and_counts_them(db, hiremate, cli):
    acme = organization_with_library(db)
    other = organization_with_library(db, "Globex")
    library_ids = {doc["_id"] for doc in db[dbmod.TASKS].find({"organization_id": acme.id}, {"_id": 1})}

    result = hiremate("simulate", "--org", acme.slug, "--count", "7", "--seed", "5")

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert json.loads(line) == {"organization": acme.slug, "attempts": 7, "seed": 5}
    attempts = list(db[dbmod.ATTEMPTS].find({}))
    assert len(attempts) == 7 and {a["organization_id"] for a in attempts} == {acme.id}
    assert {a["status"] for a in attempts} == {"completed"}
    for attempt in attempts:
        assert set(attempt["task_ids"]) <= library_ids and len(attempt["task_ids"]) == 5
        assert {t["title"] for t in attempt["task_snapshots"]} <= {t.title for t in LIBRARY.values()}
        profile = db[dbmod.PROFILES].find_one({"attempt_id": attempt["_id"]})
        assert profile["organization_id"] == acme.id
        assert profile["candidate_name"] == attempt["candidate_info"]["name"]
        assert db[dbmod.METRICS].count_documents({"attempt_id": attempt["_id"]}) == 1
        assert db[dbmod.EVENTS].count_documents({"attempt_id": attempt["_id"]}) > 5 * 4
    audit = db[dbmod.AUDIT_LOG].find_one({"action": "attempts.simulated"})
    assert (audit["organization_id"], audit["details"]) == (acme.id, {"attempts": 7, "seed": 5, "via": "cli"})

    # The counters the pages read are what a recount makes of the attempts.
    simulated = counters(db, acme.id)
    assert attempt_counts.by_status(db, acme.id)["completed"] == 7 and simulated[2] == 7
    assert cli("recount").returncode == 0
    assert counters(db, acme.id) == simulated
    assert attempt_counts.by_status(db, other.id)["completed"] == 0

    # By name, with a seed of its own (printed, so the run can be repeated elsewhere).
    more = hiremate("simulate", "--org", "Acme Hiring", "--count", "3")
    assert more.returncode == 0, more.stderr
    line = json.loads(more.stdout)
    assert line["attempts"] == 3 and isinstance(line["seed"], int)
    assert attempt_counts.by_status(db, acme.id)["completed"] == 10


def test_simulate_the_same_seed_twice_is_refused_and_adds_nothing(db, cli):
    acme = organization_with_library(db)
    assert cli("simulate", "--org", acme.slug, "--count", "3", "--seed", "11").returncode == 0
    before = {name: db[name].count_documents({}) for name in (dbmod.ATTEMPTS, dbmod.EVENTS, dbmod.PROFILES)}

    again = cli("simulate", "--org", acme.slug, "--count", "5", "--seed", "11")

    assert again.returncode == 2
    assert "3 of these simulated attempts are stored already" in one_error_line(again)
    assert "use another --seed" in one_error_line(again)
    assert {name: db[name].count_documents({}) for name in before} == before
    assert attempt_counts.by_status(db, acme.id)["completed"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "nowhere", "--count", "2"], "no organisation with slug or name 'nowhere'"),
        (["--org", "empty", "--count", "2"], "organisation empty has no active tasks"),
        (["--org", "empty", "--count", "0"], "must be at least 1"),
        (["--org", "empty", "--count", "2", "--seed", "x"], "invalid int value: 'x'"),
        (["--count", "2"], "the following arguments are required: --org"),
    ],
)
def test_simulate_refuses_bad_input(db, cli, args, message):
    auth.create_organization(db, "Empty")
    result = cli("simulate", *args)
    assert result.returncode == 2
    assert message in one_error_line(result)
    assert result.stdout == "" and db[dbmod.ATTEMPTS].count_documents({}) == 0


# ---------------------------------------------------------------- errors


def test_unreachable_database_exits_with_1(hiremate, env):
    environment = env | {"HIREMATE_MONGODB_URI": "mongodb://127.0.0.1:1/"}
    result = hiremate("seed-demo", environment=environment)
    assert result.returncode == 1
    assert "the database at mongodb://127.0.0.1:1/ does not answer" in one_error_line(result)


def test_unknown_command_exits_with_2(hiremate):
    result = hiremate("frobnicate")
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in one_error_line(result)


# ---------------------------------------------------------------- .env.example


def test_env_example_prints_what_settings_declare(capsys):
    # tests/hiremate/test_settings.py checks the committed file against the same text.
    assert main(["env-example"]) == 0
    assert capsys.readouterr().out == env_example()


# ---------------------------------------------------------------- migrate-emails


def test_migrate_emails_lower_cases_stored_emails_and_reports_case_twins(db, cli):
    """Emails stored before every path normalised them: inserted directly in
    mixed case, migrated, then found by the lookups that compare the stored form."""
    from tests.support.page_helpers import make_admin, make_org, open_page, seed_completed, texts

    org = make_org(db)
    attempt = seed_completed(org, "Grace Hopper", email="grace.hopper@example.com")
    db[dbmod.ATTEMPTS].update_one({"_id": attempt.id}, {"$set": {"candidate_info.email": "Grace.Hopper@Example.COM"}})
    db[dbmod.PROFILES].update_one(
        {"attempt_id": attempt.id}, {"$set": {"candidate_email": " Grace.Hopper@Example.COM"}}
    )
    admin = make_admin(db, org="Other", email="ada@other.test")
    auth.invite(auth.scope_for(db, admin), "lin@other.test")
    db[dbmod.INVITATIONS].update_one({"email": "lin@other.test"}, {"$set": {"email": "Lin@Other.test"}})
    mixed = db[dbmod.USERS].find_one({"_id": org.user.id})
    db[dbmod.USERS].update_one({"_id": org.user.id}, {"$set": {"email": mixed["email"].upper()}})
    twin = dict(db[dbmod.USERS].find_one({"_id": admin.id}), _id=ObjectId(), email="Ada@Other.TEST")
    db[dbmod.USERS].insert_one(twin)
    assert reports.attempts_for_email(org.scope, "grace.hopper@example.com") == []  # the bug: not found

    result = cli("migrate-emails")

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert json.loads(line) == {
        "users": 1,
        "invitations": 1,
        "attempts": 1,
        "profiles": 1,
        "user_conflicts": [{"user_id": str(twin["_id"]), "conflicts_with": str(admin.id)}],
    }
    [found] = reports.attempts_for_email(org.scope, "grace.hopper@example.com")
    assert found.attempt_id == str(attempt.id)
    assert db[dbmod.PROFILES].find_one({"attempt_id": attempt.id})["candidate_email"] == "grace.hopper@example.com"
    assert auth.authenticate(db, org.user.email, PAGE_PASSWORD).id == org.user.id
    page = open_page(db, org.user, "app_pages/profile.py", email="grace.hopper@example.com")
    assert "Grace Hopper" in texts(page)
    # The twin is left for an admin; nothing else changed on a second run.
    assert db[dbmod.USERS].find_one({"_id": twin["_id"]})["email"] == "Ada@Other.TEST"
    again = cli("migrate-emails")
    assert json.loads(again.stdout) == json.loads(line) | {"users": 0, "invitations": 0, "attempts": 0, "profiles": 0}


# ---------------------------------------------------------------- issue --send-email


def test_issue_send_email_queues_the_invitation_and_still_prints_the_link(db, cli, monkeypatch, smtp_server):  # noqa: F811
    from hiremate import mail
    from hiremate import settings as settingsmod

    seed_demo(db, PASSWORD)
    refused = cli("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com", "--sample", "1",
                  "--send-email")  # fmt: skip
    assert refused.returncode == 2 and "HIREMATE_SMTP_URL" in refused.stderr and refused.stdout == ""

    monkeypatch.setenv("HIREMATE_SMTP_URL", smtp_server.url)
    monkeypatch.setenv("HIREMATE_MAIL_FROM", "hr@demo.test")
    settingsmod.get_settings.cache_clear()
    result = cli("issue", "--candidate-name", "Ada", "--candidate-email", "ada@example.com", "--sample", "1",
                 "--send-email")  # fmt: skip
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    issued = json.loads(line)
    assert issued["mail"] == "queued" and {"token", "link"} <= set(issued)
    assert mail.drain(db, settingsmod.get_settings()).sent == 1
    [received] = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["ada@example.com"] and issued["link"] in received.text()


# ---------------------------------------------------------------- api-key


def test_api_key_create_list_and_revoke(db, cli):
    from hiremate import api_keys, auth

    organization = auth.create_organization(db, "Acme Hiring")
    created = cli("api-key", "create", "--org", "acme-hiring", "--name", "ATS", "--scope", "write")
    assert created.returncode == 0, created.stderr
    [line] = created.stdout.splitlines()
    made = json.loads(line)
    assert made["key"].startswith("hmk_") and made["access"] == "write"
    assert api_keys.authenticate(db, made["key"]).organization_id == organization.id
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "api_key.created"})
    assert entry["details"]["via"] == "cli" and entry["target_id"] == made["id"]
    listed = cli("api-key", "list", "--org", "Acme Hiring")
    [row] = [json.loads(text) for text in listed.stdout.splitlines()]
    assert row["id"] == made["id"] and made["key"] not in listed.stdout and "key_hash" not in row
    revoked = cli("api-key", "revoke", "--org", "acme-hiring", "--id", made["id"])
    assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
    assert api_keys.authenticate(db, made["key"]) is None
    again = cli("api-key", "revoke", "--org", "acme-hiring", "--id", made["id"])
    assert again.returncode == 2 and "revoked already" in one_error_line(again)
    assert cli("api-key", "create", "--org", "nobody", "--name", "x").returncode == 2
    assert cli("api-key", "create", "--org", "acme-hiring", "--name", "x", "--scope", "admin").returncode == 2
