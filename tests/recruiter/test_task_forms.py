"""recruiter.task_forms: drafts, widget state, validation messages and the
candidate's view, without Streamlit."""

from __future__ import annotations

import random
from dataclasses import asdict, replace

import pytest

from hiremate import tasks
from hiremate.models import Task
from hiremate.ops import simulate
from hiremate.task_library import LIBRARY
from hiremate.tasks import AUTHORED_FIELDS, TaskValidationError
from hiremate.timeutil import utcnow
from recruiter import task_forms
from recruiter.task_forms import OptionDraft, TaskDraft

P = "tasks_f_"


def complete_draft(**changes) -> TaskDraft:
    draft = TaskDraft(
        title="Escalate or wait",
        scenario="A customer reports an outage.",
        options=(
            OptionDraft("opt_1", "Call now.", "low", "cautious, escalates early"),
            OptionDraft("opt_2", "Wait.", "high", "patient"),
        ),
    )
    return replace(draft, **changes)


def stored(task_input) -> Task:
    now = utcnow()
    return Task(**task_input.model_dump(), created_at=now, updated_at=now)


# ---------------------------------------------------------------- options


def test_a_new_draft_has_two_blank_options():
    draft = task_forms.new_draft()
    assert [o.id for o in draft.options] == ["opt_1", "opt_2"]
    assert not task_forms.can_remove_option(draft)
    with pytest.raises(ValueError, match="at least 2"):
        task_forms.remove_option(draft, "opt_1")


def test_options_grow_to_six_and_ids_are_never_reused():
    draft = task_forms.new_draft()
    for _ in range(4):
        draft = task_forms.add_option(draft)
    assert [o.id for o in draft.options] == [f"opt_{n}" for n in range(1, 7)]
    assert not task_forms.can_add_option(draft)
    with pytest.raises(ValueError, match="at most 6"):
        task_forms.add_option(draft)
    draft = task_forms.remove_option(draft, "opt_6")
    draft = task_forms.remove_option(draft, "opt_2")
    assert [o.id for o in draft.options] == ["opt_1", "opt_3", "opt_4", "opt_5"]
    assert task_forms.add_option(draft).options[-1].id == "opt_6"
    assert task_forms.next_option_id(["a", "b"]) == "opt_1"


@pytest.mark.parametrize(
    ("typed", "tags"),
    [
        ("Cautious, methodical", ["cautious", "methodical"]),
        ("a;b\nc", ["a", "b", "c"]),
        ("  risk   taking ,, RISK taking, ", ["risk taking"]),
        ("", []),
        (" , ; ", []),
    ],
)
def test_parse_tags(typed, tags):
    assert task_forms.parse_tags(typed) == tags


# ---------------------------------------------------------------- widget state


def test_widget_state_round_trip():
    draft = task_forms.add_option(complete_draft(time_limit_seconds=120, reasoning_required=False))
    state = task_forms.state_from_draft(draft, P)
    assert all(key.startswith(P) for key in state)
    assert state[f"{P}title"] == "Escalate or wait"
    assert state[task_forms.option_key(P, "opt_1", "tags")] == "cautious, escalates early"
    assert state[task_forms.option_ids_key(P)] == ["opt_1", "opt_2", "opt_3"]
    assert task_forms.draft_from_state(state, P) == draft
    assert sorted(task_forms.state_keys([*state, "tasks_page", 7], P)) == sorted(state)


def test_an_empty_state_is_a_new_draft():
    assert task_forms.draft_from_state({}, P) == task_forms.new_draft()


def test_a_library_task_survives_draft_and_back():
    for entry in LIBRARY.values():
        task = stored(entry)
        again = task_forms.to_task_input(task_forms.draft_from_task(task))
        assert again.model_dump() == entry.model_dump()
        assert task_forms.changed_fields(task, again) == {}


# ---------------------------------------------------------------- validation


def test_a_complete_draft_becomes_a_task_input():
    task = task_forms.to_task_input(complete_draft(time_limit_seconds=0))
    assert task.time_limit_seconds is None
    assert [o.behavioral_tags for o in task.options] == [["cautious", "escalates early"], ["patient"]]
    assert [o.risk_level for o in task.options] == ["low", "high"]


def test_every_problem_is_named_as_the_form_names_it():
    draft = complete_draft(
        title="  ",
        scenario="",
        time_limit_seconds=5,
        reasoning_min_length=6000,
        options=(OptionDraft("opt_1", "", "low", ""), OptionDraft("opt_2", "Wait.", "extreme", "patient")),
    )
    with pytest.raises(TaskValidationError) as caught:
        task_forms.to_task_input(draft)
    assert caught.value.problems == [
        "Title: is required",
        "Scenario: is required",
        "Option 1 text: is required",
        "Time limit: use 0 for none, or between 10 and 3600 seconds",
        "Option 2 risk level: Input should be 'low', 'medium' or 'high'",
        "Minimum reasoning length: between 0 and 5000 characters",
    ]


def test_too_few_options_is_explained():
    draft = complete_draft(options=(OptionDraft("opt_1", "Only one.", "low", "x"),))
    with pytest.raises(TaskValidationError) as caught:
        task_forms.to_task_input(draft)
    assert caught.value.problems == ["Options: a task needs 2 to 6 options"]


@pytest.mark.parametrize(
    ("raw", "friendly"),
    [
        ("options[2].text: String should have at least 1 character", "Option 3 text: is required"),
        ("options[0].behavioral_tags: every option needs x", "Option 1 tags: every option needs x"),
        ("options[1]: bad", "Option 2: bad"),
        ("title: must not be blank", "Title: is required"),
        ("options: option ids must be unique", "Options: option ids must be unique"),
        ("something odd", "something odd"),
    ],
)
def test_friendly_problem(raw, friendly):
    assert task_forms.friendly_problem(raw) == friendly


def test_changed_fields_names_only_what_changed():
    task = stored(task_forms.to_task_input(complete_draft()))
    edited = task_forms.to_task_input(
        replace(
            task_forms.draft_from_task(task),
            title="Escalate, or wait?",
            options=(
                OptionDraft("opt_1", "Call now.", "medium", "cautious, escalates early"),
                OptionDraft("opt_2", "Wait.", "high", "patient"),
            ),
        )
    )
    changes = task_forms.changed_fields(task, edited)
    assert set(changes) == {"title", "options"}
    assert changes["options"][0]["risk_level"] == "medium"
    assert set(changes) <= AUTHORED_FIELDS


# ---------------------------------------------------------------- the candidate's view


def test_the_candidate_view_has_no_risk_levels_or_tags():
    task = stored(LIBRARY["ps_flaky_build"])
    view = asdict(task_forms.candidate_view(task))
    assert set(view) == {
        "title",
        "description",
        "scenario",
        "time_hint",
        "options",
        "reasoning_required",
        "reasoning_min_length",
        "reasoning_hint",
    }
    assert list(view["options"]) == [{"id": o.id, "text": o.text} for o in task.options]


def test_the_preview_is_drawn_from_what_the_ingest_server_sends():
    for task in simulate.make_tasks(random.Random(11), 20):
        sent = tasks.candidate_view(task)
        view = task_forms.candidate_view(task)
        assert [{"id": o.id, "text": o.text} for o in view.options] == sent["options"]
        assert (view.title, view.description, view.scenario) == (sent["title"], sent["description"], sent["scenario"])
        assert (view.reasoning_required, view.reasoning_min_length) == (
            sent["reasoning_required"],
            sent["reasoning_min_length"],
        )
        assert view.time_hint == task_forms.time_hint(sent["time_limit_seconds"])


def test_a_draft_can_be_previewed_before_it_is_valid():
    view = task_forms.candidate_view(task_forms.new_draft())
    assert view.title == "" and len(view.options) == 2
    assert view.time_hint is None


@pytest.mark.parametrize(
    ("seconds", "hint"),
    [
        (None, None),
        (0, None),
        (10, "Suggested time: about 1 minute."),
        (89, "Suggested time: about 1 minute."),
        (90, "Suggested time: about 2 minutes."),
        (150, "Suggested time: about 3 minutes."),  # Math.round, not banker's rounding
        (3600, "Suggested time: about 60 minutes."),
    ],
)
def test_time_hint_reads_as_on_the_candidate_page(seconds, hint):
    assert task_forms.time_hint(seconds) == hint


def test_reasoning_hint_and_counter_read_as_on_the_candidate_page():
    assert task_forms.reasoning_hint(True, 30) == "Required: at least 30 characters."
    assert task_forms.reasoning_hint(True, 0) == "Required."
    assert task_forms.reasoning_hint(False, 30) == "Optional."
    assert task_forms.reasoning_counter("  abc  ", 30) == "3 / 30 characters"
    assert task_forms.reasoning_counter("a", 0) == "1 character"
    assert task_forms.reasoning_counter("", 0) == "0 characters"
    assert task_forms.candidate_view(replace(complete_draft(), reasoning_required=False)).min_length == 0


def test_humanize():
    assert task_forms.humanize("problem_solving") == "Problem solving"
    assert task_forms.humanize("") == ""
    assert task_forms.humanize("risk_averse") == "Risk averse"
    assert task_forms.humanize(None) == ""
    assert task_forms.humanize(float("nan")) == ""  # a missing label in a pandas column
