"""Bulk issue against the embedded store: 500 rows with 3 bad ones, forgiving
headers and pasted rows, per-row problems and warnings, the mail hook, the
links CSV (safe for spreadsheets), the counters and the audit, and another
organisation's kit refused."""

from __future__ import annotations

import csv
import io

import pytest
from bson import ObjectId

from hiremate import attempt_counts, attempts, audit, kits
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.csvsafe import BOM
from hiremate.errors import BulkInputError, KitError
from hiremate.models import CandidateInfo
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY
from hiremate.tasks import create_task, soft_delete_task
from recruiter import bulk_issue

KEYS = ["ps_flaky_build", "com_late_handoffs", "dc_team_tool"]


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def kit(scope):
    tasks = [create_task(scope, LIBRARY[key]) for key in KEYS]
    return kits.create_kit(scope, {"name": "Analyst", "position": "Data analyst", "task_ids": [t.id for t in tasks]})


def read_csv(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_500_rows_with_3_bad_ones_issue_497_with_counts_audit_and_links(db, scope, kit):
    lines = ["Name,E-mail,Position"]
    lines += [f"Candidate {i},candidate{i}@example.com,Analyst" for i in range(497)]
    lines += [
        ",nameless@example.com,Analyst",  # line 499: no name
        "Bad Email,not-an-address,Analyst",  # line 500: invalid email
        "Twice,CANDIDATE7@example.com,Analyst",  # line 501: same email as line 9
    ]
    checked = bulk_issue.preview(scope, "\n".join(lines), kit)
    assert (len(checked.rows), len(checked.ready)) == (500, 497)
    assert [(row.line, row.problems) for row in checked.refused] == [
        (499, ["Name: is required"]),
        (500, ["Email: is not an email address"]),
        (501, ["Email: the same as line 9"]),
    ]
    result = bulk_issue.issue(scope, checked, expires_days=5, public_url="https://assess.example")

    stored = list(db[dbmod.ATTEMPTS].find({"organization_id": scope.organization_id}))
    assert len(stored) == len(result.issued) == 497
    assert {d["candidate_info"]["email"] for d in stored} == {f"candidate{i}@example.com" for i in range(497)}
    assert all(d["kit_id"] == kit.id and d["status"] == "pending" and len(d["task_snapshots"]) == 3 for d in stored)
    assert attempt_counts.by_status(db, scope.organization_id)["pending"] == 497
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "attempt.issued"}) == 497
    assert audit.verify_chain(db, str(scope.organization_id)).ok  # appended together, chained as one by one
    summary = db[dbmod.AUDIT_LOG].find_one({"action": "attempts.bulk_issued"})
    assert (summary["target_id"], summary["details"]) == (
        str(kit.id),
        {"rows": 500, "issued": 497, "refused": 3, "emailed": 0},
    )

    links = read_csv(bulk_issue.links_csv(result))
    assert len(links) == 497 and links[0]["Name"] == "Candidate 0"
    hashes = {d["token_hash"] for d in stored}
    for row in links:
        token = row["Link"].removeprefix("https://assess.example/a/")
        assert attempts.hash_secret(token) in hashes
    assert len({row["Link"] for row in links}) == 497
    problems = read_csv(bulk_issue.problems_csv(result.refused))
    assert [p["Line"] for p in problems] == ["499", "500", "501"]


def test_headers_are_read_forgivingly_in_any_order_and_separator(scope, kit):
    text = (
        BOM
        + "Mobile;Job title;E-Mail Address;Full name\r\n+44 20 7946 0000;Engineer;Ada@Example.com;Ada Lovelace\r\n\r\n"
    )
    [row] = bulk_issue.preview(scope, bulk_issue.decode(text.encode("utf-8")), kit).rows
    assert (row.line, row.candidate.name, row.candidate.email) == (2, "Ada Lovelace", "ada@example.com")
    assert (row.candidate.position, row.candidate.phone) == ("Engineer", "+44 20 7946 0000")


def test_pasted_rows_without_a_header_are_name_email_position_phone(scope, kit):
    pasted = "Ada Lovelace\tada@example.com\n\nGrace Hopper\tgrace@example.com\tEngineer\t555 0100\n"
    ada, grace = bulk_issue.preview(scope, pasted, kit).rows
    assert (ada.line, ada.candidate.position) == (1, "Data analyst")  # a blank position takes the kit's
    assert (grace.line, grace.candidate.position, grace.candidate.phone) == (3, "Engineer", "555 0100")


def test_a_windows_1252_file_is_read(scope, kit):
    data = "Name,Email\nZoë Ångström,zoe@example.com\n".encode("cp1252")
    [row] = bulk_issue.preview(scope, bulk_issue.decode(data), kit).rows
    assert row.candidate.name == "Zoë Ångström"


def test_an_email_with_an_open_assessment_is_a_warning_not_a_problem(scope, kit):
    first = attempts.issue_attempt(
        scope,
        candidate=CandidateInfo(name="Ada", email="ada@example.com"),
        source=kits.task_source(scope, kit),
    )
    checked = bulk_issue.preview(scope, "Name,Email\nAda Lovelace,ADA@example.com\nGrace,grace@example.com", kit)
    assert len(checked.ready) == 2
    assert [row.line for row in checked.warned] == [2]
    assert checked.warned[0].warnings == ["already has an open assessment (a second one will be issued)"]
    [(_, second, _), _] = bulk_issue.issue(scope, checked).issued
    ada = {
        d["_id"]: d.get("superseded", False)
        for d in scope.db[dbmod.ATTEMPTS].find({"candidate_info.email": "ada@example.com"})
    }
    assert ada == {first.attempt.id: True, second.attempt.id: False}  # one person: the newest stands for her


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "There are no rows"),
        ("\n \n", "There are no rows"),
        ("Name,Position\nAda,Analyst", "looks like a header but has no email column"),
        ("Name,Email\n" + "a,a@b.co\n" * (bulk_issue.MAX_ROWS + 1), "more than 2000 at once"),
    ],
)
def test_lists_that_cannot_be_read_are_refused_as_a_whole(scope, kit, text, message):
    with pytest.raises(BulkInputError, match=message):
        bulk_issue.preview(scope, text, kit)


def test_a_binary_file_is_refused():
    with pytest.raises(BulkInputError, match="not a CSV"):
        bulk_issue.decode(b"PK\x03\x04\x00\x00")


def test_the_mail_hook_gets_every_issued_attempt_at_once_and_emailed_links_leave_the_download(db, scope, kit):
    calls = []

    def send(hook_scope, issued):
        calls.append([one.attempt.candidate_info.email for one in issued])
        return {one.attempt.id for one in issued if one.attempt.candidate_info.name != "Paper"}

    text = "Name,Email\nAda,ada@example.com\nPaper,paper@example.com\n,x@example.com"
    result = bulk_issue.issue(scope, bulk_issue.preview(scope, text, kit), send=send)
    assert calls == [["ada@example.com", "paper@example.com"]]
    assert [row["Email"] for row in read_csv(bulk_issue.links_csv(result))] == ["paper@example.com"]
    assert db[dbmod.AUDIT_LOG].find_one({"action": "attempts.bulk_issued"})["details"]["emailed"] == 1


def test_a_failing_mail_hook_leaves_every_link_in_the_download(db, scope, kit):
    def send(hook_scope, issued):
        raise OSError("mail server on fire")

    text = "Name,Email\nAda,ada@example.com\nGrace,grace@example.com"
    result = bulk_issue.issue(scope, bulk_issue.preview(scope, text, kit), send=send)
    assert [row["Email"] for row in read_csv(bulk_issue.links_csv(result))] == ["ada@example.com", "grace@example.com"]
    assert db[dbmod.ATTEMPTS].count_documents({"organization_id": scope.organization_id}) == 2


def test_the_links_csv_neutralises_formulas(scope, kit):
    text = 'Name,Email,Position\n"=HYPERLINK(""http://evil"")",eve@example.com,@SUM(A1)'
    result = bulk_issue.issue(scope, bulk_issue.preview(scope, text, kit))
    [row] = read_csv(bulk_issue.links_csv(result))
    assert row["Name"].startswith("'=") and row["Position"] == "'@SUM(A1)"


def test_a_kit_that_cannot_be_issued_refuses_the_whole_list(scope, kit):
    soft_delete_task(scope, kit.task_ids[0])
    with pytest.raises(KitError, match="cannot be issued: 1 task is deleted"):
        bulk_issue.preview(scope, "Name,Email\nAda,ada@example.com", kit)


def test_another_organisations_kit_is_refused(db, kit):
    stranger = Scope(db, ObjectId(), ObjectId())
    with pytest.raises(KitError, match="No such assessment kit"):
        bulk_issue.preview(stranger, "Name,Email\nAda,ada@example.com", kit)
    assert db[dbmod.ATTEMPTS].count_documents({}) == 0


def test_with_email_every_issued_attempt_is_queued_once_and_none_is_downloaded(app_env, monkeypatch, db, scope, kit):
    monkeypatch.setenv("HIREMATE_SMTP_URL", "smtp://127.0.0.1:2525")  # queued only: nothing is sent here
    monkeypatch.setenv("HIREMATE_MAIL_FROM", "hiring@acme.test")
    settingsmod.get_settings.cache_clear()
    text = "Name,Email\nAda,ada@example.com\nGrace,grace@example.com\n,nobody@example.com"
    result = bulk_issue.issue(scope, bulk_issue.preview(scope, text, kit), send=bulk_issue.queue_invitations)
    queued = list(db[dbmod.MAIL_OUTBOX].find({"organization_id": scope.organization_id}))
    assert sorted(d["attempt_id"] for d in queued) == sorted(one.attempt.id for _, one, _ in result.issued)
    assert result.not_emailed == [] and read_csv(bulk_issue.links_csv(result)) == []
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "mail.queued"}) == 2


def test_without_a_mail_server_the_hook_refuses_and_every_link_is_downloaded(app_env, scope, kit):
    text = "Name,Email\nAda,ada@example.com"
    result = bulk_issue.issue(scope, bulk_issue.preview(scope, text, kit), send=bulk_issue.queue_invitations)
    assert [row["Email"] for row in read_csv(bulk_issue.links_csv(result))] == ["ada@example.com"]
