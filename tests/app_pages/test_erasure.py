"""Erasing a candidate from the admins' Organisation page (AppTest against
the embedded store): the email typed twice, then the receipt offered for
download with its counts; a confirmation that does not match erases nothing."""

from __future__ import annotations

import random

from hiremate import db as dbmod
from hiremate import erasure
from hiremate.ops import simulate
from tests.support.page_helpers import (  # noqa: F401
    Org,
    _fast_bcrypt,
    click,
    make_admin,
    open_page,
    scope_of,
    seed_completed,
    texts,
)

PAGE = "app_pages/organization.py"
EMAIL = "zebulon.quixote@example.com"


def test_an_admin_erases_a_candidate_and_gets_the_receipt(app_env, db):
    admin = make_admin(db)
    tasks = simulate.make_tasks(random.Random(3), 3, organization_id=admin.organization_id)
    org = Org(scope_of(db, admin), admin, tasks)
    attempt = seed_completed(org, name="Zebulon Quixote", email=EMAIL)
    other = seed_completed(org, name="Ada Lovelace", email="ada@example.com")
    at = open_page(db, admin, PAGE)
    assert "Erase a candidate" in texts(at)

    at.text_input(key="erase_email").input(EMAIL)
    at.text_input(key="erase_confirmation").input("zebulon@example.com")
    click(at, "erase_submit")
    assert "Type the candidate's email again, exactly" in texts(at)
    assert db[dbmod.ATTEMPTS].find_one({"_id": attempt.id}) is not None
    assert not at.get("download_button")

    at.text_input(key="erase_email").input(EMAIL)
    at.text_input(key="erase_confirmation").input(EMAIL.upper())
    click(at, "erase_submit")

    assert "Erased 1 assessment and everything they held." in texts(at)
    assert db[dbmod.ATTEMPTS].find_one({"_id": attempt.id}) is None
    assert db[dbmod.ATTEMPTS].find_one({"_id": other.id}) is not None
    [download] = at.get("download_button")
    assert download.proto.ignore_rerun and download.proto.label == "Download the receipt (JSON)"
    shown = at.table[0].value
    assert dict(zip(shown["what"], shown["documents removed"], strict=True))["task_attempts"] == 1
    entry = db[dbmod.AUDIT_LOG].find_one({"action": erasure.ERASED})
    assert entry["actor_id"] == admin.id and EMAIL not in str(entry)
