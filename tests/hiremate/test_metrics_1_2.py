"""Rule version 1.2.0 (docs/metrics.md, "Rule 1.2.0"): evidence_level, no
dimensions without a completed task, sentences that name what was measured,
proper plurals, the medium risk pattern, confidence in words."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiremate.metrics import compute_metrics, risk_preference
from hiremate.models import AttemptStatus, EventType, SkillProfile
from hiremate.ops.simulate import simulate_session
from hiremate.skills import TOO_LITTLE_SUMMARY, confidence_words, interpret, plural, times
from tests.hiremate.test_metrics import COMPUTED_AT, Script, completed_at, make_attempt, make_task

EMOTION = re.compile(r"\b(anxious|stress\w*|nervous|frustrat\w*|calm|confiden\w*|comfort\w*|emotion\w*)\b")
SCORE = re.compile(r"\b(score\w*|rating|rank\w*|grade\w*|points?)\b|\d+%\)?$")


def session(options: list[str], *, focus_losses: int = 0, completed: int | None = None, text: str = "because"):
    """One task per option, each with a first selection 2 s after it starts;
    ``completed`` tasks (all by default) are completed."""
    tasks = [make_task() for _ in options]
    s = Script()
    start = 0.0
    done = len(options) if completed is None else completed
    for index, (task, option) in enumerate(zip(tasks, options, strict=True)):
        if index < done:
            s.task(task, index, start, start + 2, start + 4, option, text)
            if index == 0:
                for k in range(focus_losses):
                    s.at(start + 2.1 + 0.1 * k, task, EventType.FOCUS_LOST, trigger="tab_switch")
                    s.at(start + 2.15 + 0.1 * k, task, EventType.FOCUS_GAINED, trigger="tab_switch")
                # (focus events after the completion are outside the window: re-order)
                s.events.sort(key=lambda e: e.event_time)
                for n, e in enumerate(s.events, start=1):
                    s.events[n - 1] = e.model_copy(update={"sequence_number": n})
        else:
            s.at(start, task, EventType.TASK_STARTED, task_index=index)
        start += 5
    status = AttemptStatus.COMPLETED if done == len(options) else AttemptStatus.EXPIRED
    attempt = make_attempt(tasks, status=status, completed_at=completed_at(start) if done == len(options) else None)
    metrics = compute_metrics(attempt, tasks, s.events, computed_at=COMPUTED_AT)
    return metrics, interpret(metrics, generated_at=COMPUTED_AT)


def sentences(profile: SkillProfile) -> list[str]:
    dims = [profile.thinking_style, profile.decision_pattern, profile.risk_orientation, profile.communication_style]
    return [e for d in dims if d for e in d.evidence] + profile.strengths + profile.considerations


# ---------------------------------------------------------------- evidence level


@pytest.mark.parametrize(
    ("completed", "level", "words"),
    [(0, "none", "no evidence (0 tasks)"), (1, "limited", "limited evidence (1 task)"),
     (2, "limited", "limited evidence (2 tasks)"), (3, "sufficient", "sufficient evidence (3 tasks)")],
)  # fmt: skip
def test_evidence_level_follows_the_completed_tasks(completed, level, words):
    metrics, profile = session(["opt_1"] * 4, completed=completed)
    assert metrics.global_metrics.tasks_completed == completed
    assert (profile.version, profile.evidence_level, profile.tasks_completed) == ("1.2.0", level, completed)
    assert confidence_words(profile) == words
    doc = profile.to_doc()
    assert (doc["evidence_level"], doc["tasks_completed"]) == (level, completed)
    if completed == 0:
        assert profile.thinking_style is profile.decision_pattern is None
        assert profile.risk_orientation is profile.communication_style is None
        assert doc["thinking_style"] is None
        assert profile.overall_summary == TOO_LITTLE_SUMMARY
        assert (profile.strengths, profile.considerations) == ([], [])
    else:
        assert all(
            d is not None and d.evidence
            for d in (profile.thinking_style, profile.decision_pattern, profile.risk_orientation)
        )
    assert SkillProfile.from_doc(doc) == profile


def test_older_profiles_carry_no_evidence_level_and_are_worded_from_their_metrics():
    metrics, _ = session(["opt_1", "opt_2"])
    old_metrics = metrics.model_copy(update={"version": "1.1.0"})
    old = interpret(old_metrics, generated_at=COMPUTED_AT)
    assert old.evidence_level is None and old.tasks_completed is None
    assert "evidence_level" not in old.to_doc() and "tasks_completed" not in old.to_doc()
    assert confidence_words(old, old_metrics) == "limited evidence (2 tasks)"
    assert confidence_words(old) == "evidence not recorded"


# ---------------------------------------------------------------- risk


@pytest.mark.parametrize(
    ("low", "medium", "high", "v11", "v12"),
    [
        (0, 3, 0, "balanced", "medium"),
        (1, 2, 0, "medium", "medium"),
        (1, 4, 1, "balanced", "medium"),
        (0, 4, 1, "medium", "medium"),
        (1, 1, 1, "balanced", "balanced"),
        (2, 2, 1, "balanced", "balanced"),
        (2, 3, 0, "medium", "medium"),  # 60% exactly: not "more than", the fall-through still says medium
        (1, 3, 1, "balanced", "balanced"),  # 60%: balanced as before
        (3, 1, 0, "low", "low"),
        (0, 0, 0, "balanced", "balanced"),
    ],
)
def test_more_than_60_percent_medium_is_medium_before_the_balanced_rule(low, medium, high, v11, v12):
    levels = ["low"] * low + ["medium"] * medium + ["high"] * high
    assert risk_preference(levels, version="1.1.0").dominant == v11
    assert risk_preference(levels, version="1.0.0").dominant == v11
    assert risk_preference(levels, version="1.2.0").dominant == v12


def test_all_medium_choices_read_as_middle_ground():
    metrics, profile = session(["opt_2"] * 3)  # make_task: opt_1 low, opt_2 medium, opt_3 high
    assert metrics.aggregated_patterns.risk_preference.dominant == "medium"
    risk = profile.risk_orientation
    assert (risk.preference, risk.confidence) == ("balanced", 1.0)
    assert risk.evidence == [
        "Chose a middle-ground (medium-risk) option in 3 of 3 tasks",
        "Choices by risk level: 0 low, 3 medium, 0 high",
    ]
    assert "mostly choose middle-ground options" in profile.overall_summary
    assert "across risk levels" not in profile.overall_summary
    _, mixed = session(["opt_1", "opt_2", "opt_2"])
    assert mixed.risk_orientation.evidence[0] == "Chose a middle-ground (medium-risk) option in 2 of 3 tasks"
    assert mixed.risk_orientation.confidence == 0.6667
    _, spread = session(["opt_1", "opt_2", "opt_3"])
    assert spread.risk_orientation.evidence[0] == "No single risk level in most choices"
    assert "across risk levels" in spread.overall_summary


# ---------------------------------------------------------------- sentences


def test_hesitation_is_printed_as_hesitation_never_as_decision_speed():
    metrics, profile = session(["opt_1"] * 3)
    assert profile.thinking_style.primary == "intuitive"
    # the seed's template printed average hesitation as "Fast decision-making (avg 0.0s)"
    h = metrics.global_metrics.hesitation_time_seconds / metrics.global_metrics.total_tasks
    assert profile.thinking_style.evidence[0] == f"Little pause between actions (avg {h:.1f} s of hesitation per task)"
    assert profile.decision_pattern.evidence[0] == "First option selected after avg 2.0 s"
    for text in sentences(profile):
        assert "decision" not in text.lower() or "hesitation" not in text.lower(), text
        assert "Fast decision-making" not in text and "Quick initial decisions" not in text


@pytest.mark.parametrize(("losses", "text"), [(1, "once"), (2, "twice"), (3, "3 times")])
def test_leaving_the_window_is_counted_in_words(losses, text):
    metrics, profile = session(["opt_1"] * 3, focus_losses=losses)
    assert sum(t.focus_loss_count for t in metrics.per_task_metrics) == losses
    assert f"Left the assessment window {text}" in profile.considerations
    assert not any("time(s)" in s for s in sentences(profile))


def test_plural_helpers():
    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert [times(n) for n in (1, 2, 3, 11)] == ["once", "twice", "3 times", "11 times"]
    _, one = session(["opt_1"])
    assert one.risk_orientation.evidence[0] == "Chose a low-risk option in 1 of 1 task"
    _, one_word = session(["opt_1"] * 3, text="because")
    assert one_word.communication_style.evidence[0] == "Wrote avg 1 word per explanation"


def test_seconds_have_one_decimal_and_a_unit():
    _, profile = session(["opt_1", "opt_3", "opt_1"])
    for text in sentences(profile):
        for number in re.findall(r"(\d+(?:\.\d+)?) s\b", text):
            assert re.fullmatch(r"\d+\.\d", number), text
        assert not re.search(r"\d+(\.\d+)?s\b", text), text  # "2.0s": no unit spacing, the old form


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(0, 8))
def test_generated_sessions_give_honest_repeatable_profiles(seed, task_count, stop):
    generated = simulate_session(seed, task_count=task_count, stop_after_tasks=stop)
    attempt = generated.attempt if generated.attempt.status == "completed" else generated.ended(AttemptStatus.EXPIRED)
    m = compute_metrics(attempt, generated.tasks, generated.behavior_events, computed_at=COMPUTED_AT)
    first, second = interpret(m, generated_at=COMPUTED_AT), interpret(m, generated_at=COMPUTED_AT)
    assert json.dumps(first.model_dump(mode="json"), sort_keys=True) == json.dumps(
        second.model_dump(mode="json"), sort_keys=True
    )
    n = m.global_metrics.tasks_completed
    assert first.evidence_level == ("none" if n == 0 else "limited" if n < 3 else "sufficient")
    assert (first.thinking_style is None) == (n == 0)
    for text in [*sentences(first), first.overall_summary]:
        assert not EMOTION.search(text.lower()), text
        assert not SCORE.search(text.lower()), text
        assert "time(s)" not in text
