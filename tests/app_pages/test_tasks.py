"""The Tasks page through AppTest against the embedded store: authoring with
the options editor, validation, soft delete and restore, the candidate
preview, filters, pagination and organisation scoping."""

from __future__ import annotations

import re

from hiremate import db as dbmod
from hiremate import task_library, tasks
from hiremate.models import Task
from recruiter import task_forms
from tests.support.page_helpers import _fast_bcrypt, click, make_admin, open_page, run_ok, scope_of, texts, unescape  # noqa: F401

PAGE = "app_pages/tasks.py"
E = "tasks_f_"


def option(at, option_id: str, name: str):
    key = task_forms.option_key(E, option_id, name)
    return at.text_area(key=key) if name == "text" else at.text_input(key=key)


def fill_task(at, *, title="Escalate or wait", scenario="A customer reports an outage at 6pm on a Friday."):
    at.text_input(key=f"{E}title").input(title)
    at.text_area(key=f"{E}scenario").input(scenario)
    at.selectbox(key=f"{E}category").select("communication")
    at.selectbox(key=f"{E}difficulty").select("hard")
    at.number_input(key=f"{E}time_limit_seconds").set_value(240)
    at.number_input(key=f"{E}reasoning_min_length").set_value(35)
    option(at, "opt_1", "text").input("Call the on-call engineer now.")
    at.selectbox(key=task_forms.option_key(E, "opt_1", "risk_level")).select("low")
    option(at, "opt_1", "tags").input("Cautious, escalates early")
    option(at, "opt_2", "text").input("Wait until Monday and write a report.")
    at.selectbox(key=task_forms.option_key(E, "opt_2", "risk_level")).select("high")
    option(at, "opt_2", "tags").input("patient; independent")


ROW_TITLE = re.compile(r"^\*\*(?P<title>.+?)\*\*(?: :gray-badge\[:material/delete: Deleted\])?$")


def listed_titles(at) -> list[str]:
    return [unescape(m["title"]) for m in (ROW_TITLE.match(md.value) for md in at.markdown) if m]


def stored(db) -> list[dict]:
    return list(db[dbmod.TASKS].find().sort("created_at", 1))


def make_tasks(scope, count: int, **fields) -> list[Task]:
    base = task_library.LIBRARY["ps_flaky_build"].model_dump()
    return [tasks.create_task(scope, {**base, "title": f"Task {n:02d}", **fields}) for n in range(count)]


def test_create_a_task_through_the_form_and_find_it_listed(app_env, db):
    at = open_page(db, make_admin(db), PAGE)
    click(at, "tasks_new")
    fill_task(at)
    click(at, "tasks_add_option")
    option(at, "opt_3", "text").input("Post in the team channel and ask who is around.")
    option(at, "opt_3", "tags").input("collaborative")
    click(at, "tasks_save")

    assert not at.error
    assert "Task “Escalate or wait” created." in [s.value for s in at.success]
    assert listed_titles(at) == ["Escalate or wait"]
    assert "tasks_save" not in [b.key for b in at.button]
    [doc] = stored(db)
    assert doc["title"] == "Escalate or wait"
    assert (doc["category"], doc["difficulty"], doc["time_limit_seconds"]) == ("communication", "hard", 240)
    assert doc["reasoning_required"] is True and doc["reasoning_min_length"] == 35
    assert [(o["id"], o["risk_level"], o["behavioral_tags"]) for o in doc["options"]] == [
        ("opt_1", "low", ["cautious", "escalates early"]),
        ("opt_2", "high", ["patient", "independent"]),
        ("opt_3", "medium", ["collaborative"]),
    ]
    assert not any("correct" in key for o in doc["options"] for key in o)


def test_validation_problems_are_listed_and_nothing_is_saved(app_env, db):
    at = open_page(db, make_admin(db), PAGE)
    click(at, "tasks_new")
    fill_task(at, title="   ")
    option(at, "opt_2", "text").input("")
    option(at, "opt_2", "tags").input(" , ")
    at.number_input(key=f"{E}time_limit_seconds").set_value(5)
    click(at, "tasks_save")

    [error] = at.error
    shown = unescape(error.value)
    for problem in (
        "Title: is required",
        "Option 2 text: is required",
        "Time limit: use 0 for none, or between 10 and 3600 seconds",
    ):
        assert f"- {problem}" in shown
    assert "Option 2 tags" not in shown  # tags are optional (issue 18)
    assert stored(db) == []
    # The editor stays open with what was typed.
    assert at.text_input(key=f"{E}title").value == "   "
    assert option(at, "opt_1", "text").value == "Call the on-call engineer now."


def test_options_editor_keeps_between_two_and_six_options(app_env, db):
    at = open_page(db, make_admin(db), PAGE)
    click(at, "tasks_new")
    assert at.button(key="tasks_remove_opt_1").disabled
    for _ in range(4):
        click(at, "tasks_add_option")
    assert at.button(key="tasks_add_option").disabled
    assert [k for k in (b.key for b in at.button) if k.startswith("tasks_remove_")] == [
        f"tasks_remove_opt_{n}" for n in range(1, 7)
    ]
    option(at, "opt_3", "text").input("third")
    click(at, "tasks_remove_opt_2")
    # Option 3 keeps its text after option 2 went away; labels renumber.
    assert option(at, "opt_3", "text").value == "third"
    assert option(at, "opt_3", "text").label == "Option 2"
    assert not at.button(key="tasks_add_option").disabled


def test_edit_a_task(app_env, db):
    admin = make_admin(db)
    [task] = make_tasks(scope_of(db, admin), 1)
    at = open_page(db, admin, PAGE)
    click(at, f"tasks_edit_{task.id}")
    assert at.text_input(key=f"{E}title").value == "Task 00"
    assert option(at, "opt_1", "tags").value == ", ".join(task.options[0].behavioral_tags)
    at.text_input(key=f"{E}title").input("A build that fails now and then")
    click(at, "tasks_save")
    assert "Task “A build that fails now and then” saved." in [s.value for s in at.success]
    assert listed_titles(at) == ["A build that fails now and then"]
    doc = db[dbmod.TASKS].find_one({"_id": task.id})
    assert doc["title"] == "A build that fails now and then"
    assert doc["options"] == [o.model_dump() for o in task.options]  # untouched
    audit = db[dbmod.AUDIT_LOG].find_one({"action": "task.updated"})
    assert audit["details"]["fields"] == ["title"]


def test_the_editor_stays_open_when_the_filters_hide_its_task(app_env, db):
    admin = make_admin(db)
    [task] = make_tasks(scope_of(db, admin), 1)
    at = open_page(db, admin, PAGE)
    click(at, f"tasks_edit_{task.id}")
    at.text_input(key=f"{E}title").input("Renamed while filtered")
    at.selectbox(key="tasks_filter_status").select("Deleted")
    run_ok(at)
    assert listed_titles(at) == []
    assert at.text_input(key=f"{E}title").value == "Renamed while filtered"
    click(at, "tasks_save")
    assert db[dbmod.TASKS].find_one({"_id": task.id})["title"] == "Renamed while filtered"


def test_soft_delete_and_restore(app_env, db):
    admin = make_admin(db)
    _, gone = make_tasks(scope_of(db, admin), 2)
    at = open_page(db, admin, PAGE)
    click(at, f"tasks_delete_{gone.id}")
    assert listed_titles(at) == ["Task 00"]
    assert db[dbmod.TASKS].find_one({"_id": gone.id})["is_active"] is False

    at.selectbox(key="tasks_filter_status").select("Deleted")
    run_ok(at)
    assert listed_titles(at) == ["Task 01"]
    click(at, f"tasks_restore_{gone.id}")
    assert "Task “Task 01” restored." in [s.value for s in at.success]
    assert db[dbmod.TASKS].find_one({"_id": gone.id})["is_active"] is True
    assert "No tasks match these filters." in texts(at)
    at.selectbox(key="tasks_filter_status").select("Active")
    run_ok(at)
    assert listed_titles(at) == ["Task 01", "Task 00"]  # newest first


def test_preview_shows_the_task_as_the_candidate_sees_it_without_risk_or_tags(app_env, db):
    admin = make_admin(db)
    task = tasks.create_task(
        scope_of(db, admin),
        {
            "title": "Budget overrun",
            "description": "Mid-quarter review.",
            "scenario": "Your project is 10% over budget.",
            "category": "decision_confidence",
            "difficulty": "medium",
            "time_limit_seconds": 150,
            "reasoning_min_length": 40,
            "options": [
                {"id": "a", "text": "Cut scope now.", "risk_level": "low", "behavioral_tags": ["prudent"]},
                {"id": "b", "text": "Ask for more money.", "risk_level": "high", "behavioral_tags": ["bold"]},
            ],
        },
    )
    at = open_page(db, admin, PAGE)
    click(at, f"tasks_preview_{task.id}")
    shown = texts(at)
    assert "Budget overrun" in shown and "Your project is 10% over budget." in shown
    assert "Suggested time: about 3 minutes." in shown  # 150 s rounds as the candidate page does
    assert "Required: at least 40 characters." in " ".join(c.value for c in at.caption)
    radio = at.radio(key=f"tasks_pv_{task.id}_choice")
    assert list(radio.options) == ["Cut scope now\\.", "Ask for more money\\."]
    preview_text = "\n".join(
        [radio.label, *radio.options, *(c.value for c in at.caption if "Candidate preview" in c.value)]
    )
    for hidden in ("low", "high", "Low", "High", "risk", "Risk", "prudent", "bold", "Medium", "medium"):
        assert hidden not in preview_text
    # Closing it again.
    click(at, f"tasks_preview_{task.id}")
    assert not at.radio


def test_filters_and_pagination(app_env, db):
    admin = make_admin(db)
    scope = scope_of(db, admin)
    make_tasks(scope, 23, category="problem_solving")
    make_tasks(scope, 2, category="communication", difficulty="hard")
    at = open_page(db, admin, PAGE)
    assert "Showing 1–20 of 25 tasks" in texts(at)
    assert len(listed_titles(at)) == 20
    at.pagination(key="tasks_page").select(2)
    run_ok(at)
    assert "Showing 21–25 of 25 tasks" in texts(at)
    assert len(listed_titles(at)) == 5

    at.selectbox(key="tasks_filter_category").select("communication")
    run_ok(at)
    assert "2 tasks" in texts(at).splitlines()  # back on page 1 after the filter changed
    assert listed_titles(at) == ["Task 01", "Task 00"]  # newest first
    at.selectbox(key="tasks_filter_difficulty").select("easy")
    run_ok(at)
    assert listed_titles(at) == []
    assert "No tasks match these filters." in texts(at)


def test_a_new_organisation_can_install_the_library(app_env, db):
    at = open_page(db, make_admin(db), PAGE)
    assert "No tasks yet." in texts(at)
    click(at, "tasks_install_library")
    assert f"Added {len(task_library.LIBRARY)} tasks from the library." in [s.value for s in at.success]
    assert db[dbmod.TASKS].count_documents({}) == len(task_library.LIBRARY)


def test_another_organisation_sees_none_of_the_tasks(app_env, db):
    admin = make_admin(db)
    [task] = make_tasks(scope_of(db, admin), 1, title="Acme secret scenario")
    other = make_admin(db, org="Globex", email="gina@globex.test", name="Gina")
    at = open_page(db, other, PAGE)
    assert "Acme secret scenario" not in texts(at)
    assert f"tasks_edit_{task.id}" not in [b.key for b in at.button]
    at.selectbox(key="tasks_filter_status").select("All")
    run_ok(at)
    assert listed_titles(at) == []
    assert "No tasks yet." in texts(at)
