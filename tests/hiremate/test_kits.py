"""Assessment kits against the embedded store: fixed and sampled kits, names
unique among kits not archived, edits, archiving, kits whose tasks went away
refused with the tasks named, issuing with a kit, the public shape, the audit
(ids and counts only) and organisation scoping."""

from __future__ import annotations

import json
import random

import pytest
from bson import ObjectId

from hiremate import attempts, kits
from hiremate import db as dbmod
from hiremate.errors import KitError
from hiremate.models import CandidateInfo, KitPublic
from hiremate.scope import Scope
from hiremate.task_library import LIBRARY
from hiremate.tasks import create_task, soft_delete_task

KEYS = ["ps_flaky_build", "com_late_handoffs", "dc_team_tool", "at_price_test", "sa_report_error", "ps_night_incident"]


@pytest.fixture
def scope(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def other(db):
    return Scope(db, ObjectId(), ObjectId())


@pytest.fixture
def tasks(scope):
    return [create_task(scope, LIBRARY[key]) for key in KEYS]


def ada() -> CandidateInfo:
    return CandidateInfo(name="Ada Lovelace", email="ada@example.com", position="Analyst")


def fixed(scope, tasks, name="Analyst screen", **more):
    return kits.create_kit(scope, {"name": name, "position": "Analyst", "task_ids": [t.id for t in tasks], **more})


def test_a_fixed_kit_issues_its_tasks_in_order_and_is_recorded_on_the_attempt(db, scope, tasks):
    kit = fixed(scope, [tasks[2], tasks[0]], description="For the March round")
    assert (kit.kind, kit.task_count, kit.name_key) == ("tasks", 2, "analyst screen")
    issued = attempts.issue_attempt(scope, candidate=ada(), source=kits.task_source(scope, kit))
    assert issued.attempt.task_ids == [tasks[2].id, tasks[0].id]
    assert db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt.id})["kit_id"] == kit.id
    entry = db[dbmod.AUDIT_LOG].find_one({"action": "attempt.issued"})
    assert entry["details"]["kit_id"] == str(kit.id)


def test_an_attempt_issued_without_a_kit_stores_no_kit_field(db, scope, tasks):
    issued = attempts.issue_attempt(scope, candidate=ada(), task_ids=[tasks[0].id])
    assert "kit_id" not in db[dbmod.ATTEMPTS].find_one({"_id": issued.attempt.id})


def test_a_sampling_kit_draws_per_candidate_from_its_categories_and_difficulties(scope, tasks):
    kit = kits.create_kit(
        scope,
        {
            "name": "Problem solvers",
            "sampling": {"count": 2, "categories": ["problem_solving", "speed_accuracy"], "difficulties": []},
        },
    )
    assert (kit.kind, kit.task_count) == ("sampled", 2)
    allowed = {t.id for t in tasks if t.category in {"problem_solving", "speed_accuracy"}}
    source = kits.task_source(scope, kit)
    rng = random.Random(3)
    drawn = [attempts.issue_attempt(scope, candidate=ada(), source=source, rng=rng) for _ in range(6)]
    assert all(set(d.attempt.task_ids) <= allowed and len(d.attempt.task_ids) == 2 for d in drawn)
    assert len({tuple(d.attempt.task_ids) for d in drawn}) > 1  # a fresh draw per candidate


def test_a_sampling_rule_that_finds_too_few_tasks_is_refused_at_save_and_at_issue(scope, tasks):
    with pytest.raises(
        KitError, match="cannot be saved: Asked for 3 tasks but only 2 active tasks with category problem_solving"
    ):
        kits.create_kit(scope, {"name": "Too many", "sampling": {"count": 3, "categories": ["problem_solving"]}})
    kit = kits.create_kit(scope, {"name": "Two", "sampling": {"count": 2, "categories": ["problem_solving"]}})
    soft_delete_task(scope, tasks[0].id)
    assert kits.kit_problems(scope, kit) == [
        "Asked for 2 tasks but only 1 active tasks with category problem_solving exist"
    ]
    with pytest.raises(KitError, match="The kit “Two” cannot be issued: Asked for 2 tasks"):
        kits.task_source(scope, kit)


def test_a_kit_whose_tasks_were_deleted_says_which_and_is_refused_when_issuing(db, scope, tasks):
    kit = fixed(scope, tasks[:3])
    soft_delete_task(scope, tasks[1].id)
    db[dbmod.TASKS].delete_one({"_id": tasks[2].id})  # gone altogether (not a path the app offers)
    problems = kits.kit_problems(scope, kit)
    assert problems == [f"1 task is deleted: “{tasks[1].title}”", f"1 task no longer exists: {tasks[2].id}"]
    with pytest.raises(KitError) as refused:
        kits.task_source(scope, kit)
    assert str(refused.value) == (
        f"The kit “Analyst screen” cannot be issued: {problems[0]}; {problems[1]}. Edit the kit or choose another one."
    )
    before = db[dbmod.ATTEMPTS].count_documents({})
    with pytest.raises(KitError):
        attempts.issue_attempt(scope, candidate=ada(), source=kits.task_source(scope, kit))
    assert db[dbmod.ATTEMPTS].count_documents({}) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x"}, "A kit has either a list of tasks or a sampling rule, not both or neither"),
        ({"name": "x", "task_ids": [], "sampling": {"count": 1}}, "not both or neither"),
        ({"name": "x", "task_ids": []}, "A kit needs at least one task"),
        ({"name": "   ", "sampling": {"count": 1}}, "Name: String should have at least 1 character"),
        ({"name": "x", "sampling": {"count": 0}}, "Count: Input should be greater than or equal to 1"),
        ({"name": "x", "sampling": {"count": 1, "categories": ["juggling"]}}, "Categories: Input should be"),
    ],
)
def test_invalid_kits_are_refused_with_the_field_named(scope, tasks, data, message):
    with pytest.raises(KitError, match=message):
        kits.create_kit(scope, data)


def test_repeated_tasks_and_unknown_tasks_are_refused(scope, other, tasks):
    with pytest.raises(KitError, match="A task may appear only once in a kit"):
        fixed(scope, [tasks[0], tasks[0]])
    theirs = create_task(other, LIBRARY[KEYS[0]])
    with pytest.raises(KitError, match=f"1 task no longer exists: {theirs.id}"):
        fixed(scope, [tasks[0], theirs])


def test_names_are_unique_case_aside_among_kits_not_archived(scope, tasks):
    first = fixed(scope, tasks[:1], name="Analyst  screen")
    with pytest.raises(KitError, match="A kit named “analyst screen” exists already"):
        fixed(scope, tasks[:2], name="analyst screen")
    kits.archive_kit(scope, first.id)
    second = fixed(scope, tasks[:2], name="ANALYST SCREEN")
    with pytest.raises(KitError, match="Another kit has this name"):
        kits.restore_kit(scope, first.id)
    with pytest.raises(KitError, match="Another kit has this name"):
        kits.update_kit(scope, fixed(scope, tasks[:1], name="Other").id, {"name": "Analyst screen"})
    assert [k.id for k in kits.list_kits(scope)] == [second.id, kits.find_kit(scope, "other").id]
    assert [k.name for k in kits.list_kits(scope, archived=True)] == ["Analyst screen"]


def test_editing_a_kit_validates_what_it_becomes_and_audits_the_fields(db, scope, tasks):
    kit = fixed(scope, tasks[:2])
    renamed = kits.update_kit(scope, kit.id, {"name": "Analyst, round 2", "position": "Senior analyst"})
    assert (renamed.name, renamed.position, renamed.task_ids) == ("Analyst, round 2", "Senior analyst", kit.task_ids)
    sampled = kits.update_kit(scope, kit.id, {"sampling": {"count": 3}})
    assert (sampled.kind, sampled.task_ids, sampled.task_count) == ("sampled", None, 3)
    assert kits.update_kit(scope, kit.id, {"position": "Senior analyst"}).updated_at == sampled.updated_at
    with pytest.raises(KitError, match="A kit needs at least one task"):
        kits.update_kit(scope, kit.id, {"task_ids": []})
    entries = list(db[dbmod.AUDIT_LOG].find({"action": "kit.updated"}).sort("at", 1))
    assert [e["details"]["fields"] for e in entries] == [["name", "position"], ["sampling", "task_ids"]]


def test_an_archived_kit_is_kept_but_never_issued_nor_edited(scope, tasks):
    kit = fixed(scope, tasks[:2])
    archived = kits.archive_kit(scope, kit.id)
    assert archived.archived and archived.archived_at is not None
    assert kits.list_kits(scope) == [] and kits.list_public(scope) == []
    with pytest.raises(KitError, match="No assessment kit named"):
        kits.find_kit(scope, "Analyst screen")
    assert kits.find_kit(scope, str(kit.id)).id == kit.id  # by id it is still found ...
    with pytest.raises(KitError, match="is archived: restore it or choose another kit"):
        kits.task_source(scope, kits.find_kit(scope, str(kit.id)))  # ... and refused
    with pytest.raises(KitError, match="is archived: restore it before editing it"):
        kits.update_kit(scope, kit.id, {"name": "New"})
    assert not kits.restore_kit(scope, kit.id).archived


def test_find_by_name_or_id(scope, tasks):
    kit = fixed(scope, tasks[:1], name="Support desk")
    assert kits.find_kit(scope, "  support   DESK ").id == kit.id
    assert kits.find_kit(scope, str(kit.id)).id == kit.id
    with pytest.raises(KitError, match="No assessment kit named or with id “Nope”"):
        kits.find_kit(scope, "Nope")


def test_the_public_shape_is_what_an_api_offers(scope, tasks):
    kit = fixed(scope, tasks[:2], description="Two scenarios")
    [public] = kits.list_public(scope)
    assert public == KitPublic.of(kit)
    data = json.loads(public.model_dump_json())
    assert set(data) == {
        "id",
        "name",
        "position",
        "description",
        "kind",
        "task_count",
        "task_ids",
        "sampling",
        "archived",
        "created_at",
        "updated_at",
    }
    assert (data["id"], data["kind"], data["task_count"]) == (str(kit.id), "tasks", 2)
    assert data["task_ids"] == [str(t.id) for t in tasks[:2]]


def test_the_audit_holds_ids_and_counts_never_the_text(db, scope, tasks):
    kit = fixed(scope, tasks[:2], name="Secret project Falcon", description="Do not leak")
    kits.archive_kit(scope, kit.id)
    kits.restore_kit(scope, kit.id)
    entries = list(db[dbmod.AUDIT_LOG].find({"target_type": "kit"}).sort("at", 1))
    assert [e["action"] for e in entries] == ["kit.created", "kit.archived", "kit.restored"]
    assert entries[0]["details"] == {"kind": "tasks", "tasks": 2}
    assert all(e["target_id"] == str(kit.id) for e in entries)
    assert "Falcon" not in repr(entries) and "leak" not in repr(entries)


def test_another_organisations_kits_are_never_visible_or_usable(scope, other, tasks):
    create_task(other, LIBRARY[KEYS[0]])
    theirs = kits.create_kit(other, {"name": "Theirs", "sampling": {"count": 1}})
    fixed(scope, tasks[:1], name="Ours")
    assert [k.name for k in kits.list_kits(scope)] == ["Ours"]
    assert kits.get_kit(scope, theirs.id) is None
    for name_or_id in ("Theirs", str(theirs.id)):
        with pytest.raises(KitError, match="No assessment kit"):
            kits.find_kit(scope, name_or_id)
    with pytest.raises(KitError, match="No such assessment kit"):
        kits.update_kit(scope, theirs.id, {"name": "Mine now"})
    with pytest.raises(KitError, match="No such assessment kit"):
        kits.archive_kit(scope, theirs.id)
    with pytest.raises(KitError, match="No such assessment kit"):
        kits.task_source(scope, theirs)  # their kit handed to our scope by mistake
    assert kits.find_kit(other, "Theirs").name == "Theirs"
