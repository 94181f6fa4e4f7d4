"""Rule version 1.1.0 (docs/metrics.md, "Rule 1.1.0"): waiting time left out
of the clock, accommodations, quick keyboard changes not counted; each
against a stream worked out by hand, next to what 1.0.0 makes of it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hiremate.metrics import KEYBOARD_COMMIT_MS, compute_metrics
from hiremate.models import Accommodations, ComputedMetrics, EventType, SkillProfile, Task, TaskAttempt
from hiremate.skills import TIME_NOT_INTERPRETED, UNTIMED_SUMMARY_TEMPLATES, interpret
from tests.hiremate.test_metrics import COMPUTED_AT, T0, Script, completed_at, make_attempt, make_task

TEXT = "I chose it because it is cheaper"


def compute(
    attempt: TaskAttempt, script: Script, version: str = "1.1.0", accommodations: Accommodations | None = None
) -> tuple[ComputedMetrics, SkillProfile]:
    attempt = attempt.model_copy(update={"accommodations": accommodations})
    metrics = compute_metrics(attempt, attempt.task_snapshots, script.events, computed_at=COMPUTED_AT, version=version)
    return metrics, interpret(metrics, generated_at=COMPUTED_AT, accommodations=accommodations)


def wait(script: Script, ended: float, task: Task, seconds: float, reason: str = "next_task") -> Script:
    return script.at(ended, task, EventType.NETWORK_WAIT, wait_duration_ms=round(seconds * 1000), reason=reason)


# ---------------------------------------------------------------- waiting


def between_tasks_wait() -> tuple[TaskAttempt, Script]:
    """docs/metrics.md's first worked example: a 55.7 s wait for the next
    task, which an old page also reported as 55.7 s idle."""
    a, b = make_task(), make_task()
    s = Script()
    s.at(0, a, EventType.TASK_STARTED, task_index=0)
    s.at(3, a, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
    s.submit(6, a, TEXT).at(8, a, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=8000)
    wait(s, 63.7, b, 55.7)
    s.at(63.7, b, EventType.TASK_STARTED, task_index=1)
    s.at(63.7, b, EventType.IDLE_DETECTED, idle_duration_ms=55_700, last_activity_type="click")
    s.at(66.7, b, EventType.OPTION_SELECTED, option_id="opt_2", is_first_selection=True)
    s.submit(69.7, b, TEXT).at(71.7, b, EventType.TASK_COMPLETED, final_option_id="opt_2", task_duration_ms=8000)
    return make_attempt([a, b], completed_at=completed_at(71.7)), s


def test_a_wait_between_tasks_is_neither_idle_nor_hesitation():
    attempt, script = between_tasks_wait()
    old, old_profile = compute(attempt, script, "1.0.0")
    new, new_profile = compute(attempt, script)

    assert [t.idle_time_seconds for t in old.per_task_metrics] == [0.0, 55.7]
    assert (old.global_metrics.total_time_seconds, old.global_metrics.hesitation_time_seconds) == (71.7, 55.7)
    assert old.aggregated_patterns.attention_stability == 0.0
    assert "Spent a notable share of time idle or away" in old_profile.considerations
    assert old_profile.thinking_style.primary == "methodical"

    assert [t.idle_time_seconds for t in new.per_task_metrics] == [0.0, 0.0]
    assert [t.time_spent_seconds for t in new.per_task_metrics] == [8.0, 8.0]
    assert [t.hesitation_seconds for t in new.per_task_metrics] == [0.0, 0.0]
    g = new.global_metrics
    assert (g.total_time_seconds, g.active_interaction_time_seconds, g.hesitation_time_seconds) == (16.0, 16.0, 0.0)
    assert new.aggregated_patterns.attention_stability == 1.0
    assert new_profile.considerations == ["Keeps written explanations brief"]
    assert new_profile.thinking_style.primary == "intuitive"
    assert "Stays focused throughout the assessment" in new_profile.strengths


def mid_task_wait() -> tuple[TaskAttempt, Script]:
    """docs/metrics.md's second worked example: a reconnecting wait [25, 45]
    inside a task, overlapping an idle period [10, 40] and an away period
    [10, 50]."""
    a = make_task()
    s = Script()
    s.at(0, a, EventType.TASK_STARTED, task_index=0)
    s.at(4, a, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
    s.at(10, a, EventType.FOCUS_LOST, trigger="tab_switch")
    s.at(40, a, EventType.IDLE_DETECTED, idle_duration_ms=30_000)
    wait(s, 45, a, 20, "reconnecting")
    s.at(50, a, EventType.FOCUS_GAINED, trigger="tab_switch")
    s.submit(55, a, TEXT).at(60, a, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=60_000)
    return make_attempt([a], completed_at=completed_at(60)), s


def test_a_wait_inside_a_task_is_taken_off_every_time_figure():
    attempt, script = mid_task_wait()
    old, _ = compute(attempt, script, "1.0.0")
    new, _ = compute(attempt, script)
    [o], [n] = old.per_task_metrics, new.per_task_metrics
    # 1.0.0 (network_wait ignored): gaps 4, 6, 30, 10, 5, 5: only 4 s active
    assert (o.time_spent_seconds, o.hesitation_seconds, o.idle_time_seconds) == (60.0, 56.0, 30.0)
    assert old.aggregated_patterns.attention_stability == 0.0  # 1 - (30 + 40) / 60, clamped
    # 1.1.0: on the waiting-free clock the events are at 0, 4, 10, 25, 30, 35, 40
    assert (n.time_spent_seconds, n.hesitation_seconds, n.idle_time_seconds) == (40.0, 36.0, 15.0)
    assert (n.first_decision_speed_seconds, n.focus_loss_count) == (4.0, 1)
    assert new.aggregated_patterns.attention_stability == 0.125  # 1 - (15 + 20) / 40
    assert (new.global_metrics.total_time_seconds, new.global_metrics.hesitation_time_seconds) == (40.0, 36.0)


def test_leaving_the_window_during_a_wait_is_not_counted_but_staying_away_after_it_is():
    a = make_task()
    s = Script().at(0, a, EventType.TASK_STARTED, task_index=0)
    s.at(2, a, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
    s.at(5, a, EventType.FOCUS_LOST, trigger="tab_switch")  # during the wait [4, 24]
    wait(s, 24, a, 20, "finishing")
    s.at(30, a, EventType.FOCUS_GAINED, trigger="tab_switch")
    s.at(31, a, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=0)
    attempt = make_attempt([a], completed_at=completed_at(31))
    old, _ = compute(attempt, s, "1.0.0")
    new, _ = compute(attempt, s)
    assert old.per_task_metrics[0].focus_loss_count == 1
    assert new.per_task_metrics[0].focus_loss_count == 0
    # away from the wait's end (24) to 30 on a task of 11 s (31 - 20)
    assert new.per_task_metrics[0].time_spent_seconds == 11.0
    assert new.aggregated_patterns.attention_stability == round(1 - 6 / 11, 4)


def test_overlapping_waits_are_counted_once():
    a = make_task()
    s = Script().at(0, a, EventType.TASK_STARTED, task_index=0)
    wait(s, 10, a, 8, "reconnecting")  # [2, 10]
    wait(s, 12, a, 6, "queue_full")  # [6, 12]: together [2, 12]
    s.at(13, a, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
    s.at(14, a, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=0)
    new, _ = compute(make_attempt([a], completed_at=completed_at(14)), s)
    [n] = new.per_task_metrics
    assert (n.time_spent_seconds, n.first_decision_speed_seconds, n.hesitation_seconds) == (4.0, 3.0, 0.0)


# ---------------------------------------------------------------- accommodations


def slow_session(decision: float = 16.0) -> tuple[TaskAttempt, Script]:
    """Two tasks whose first decisions come after ``decision`` seconds, with
    a 12 s idle period and a focus loss in the first."""
    a, b = make_task(), make_task()
    s = Script()
    start = 0.0
    for index, task in enumerate((a, b)):
        s.at(start, task, EventType.TASK_STARTED, task_index=index)
        for k in range(1, int(decision // 4) + 1):
            s.at(start + 4 * k - 2, task, EventType.OPTION_VIEWED, option_id="opt_1", view_duration_ms=1000)
        s.at(start + decision, task, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
        if index == 0:
            s.at(start + decision + 1, task, EventType.FOCUS_LOST, trigger="tab_switch")
            s.at(start + decision + 3, task, EventType.FOCUS_GAINED, trigger="tab_switch")
            s.at(start + decision + 15, task, EventType.IDLE_DETECTED, idle_duration_ms=12_000)
        s.submit(start + decision + 17, task, TEXT)
        s.at(start + decision + 18, task, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=0)
        start += decision + 20
    return make_attempt([a, b], completed_at=completed_at(start - 2)), s


TIME_FIGURES = ("time_spent_seconds", "hesitation_seconds", "first_decision_speed_seconds", "idle_time_seconds")
GLOBAL_TIME_FIGURES = (
    "total_time_seconds",
    "active_interaction_time_seconds",
    "hesitation_time_seconds",
    "avg_time_per_task_seconds",
)


def test_a_time_multiplier_divides_every_time_figure_before_the_labels():
    attempt, script = slow_session(decision=16.0)
    plain, plain_profile = compute(attempt, script)
    halved, halved_profile = compute(attempt, script, accommodations=Accommodations(time_multiplier=2.0))
    for p, h in zip(plain.per_task_metrics, halved.per_task_metrics, strict=True):
        for name in TIME_FIGURES:
            assert getattr(h, name) == round(getattr(p, name) / 2, 4), name
        assert (h.decision_change_count, h.focus_loss_count) == (p.decision_change_count, p.focus_loss_count)
    for name in GLOBAL_TIME_FIGURES:
        assert getattr(halved.global_metrics, name) == round(getattr(plain.global_metrics, name) / 2, 4), name
    # ratios have no unit and do not move
    assert halved.aggregated_patterns == plain.aggregated_patterns
    # 16 s is a moderate first decision; the same 16 s with twice the time reads as 8 s: fast
    assert plain.per_task_metrics[0].first_decision_speed_seconds == 16.0
    assert halved.per_task_metrics[0].first_decision_speed_seconds == 8.0
    assert (plain_profile.decision_pattern.speed, halved_profile.decision_pattern.speed) == ("moderate", "fast")
    assert halved_profile.decision_pattern.evidence[0] == "Average first decision after 8.0s"
    assert "Commits to decisions quickly and decisively" in halved_profile.strengths
    say_nothing_of_accommodations(halved, halved_profile)


def test_an_untimed_attempt_gets_no_time_based_reading():
    attempt, script = slow_session(decision=40.0)
    timed, timed_profile = compute(attempt, script)
    assert timed_profile.decision_pattern.speed == "deliberate"
    assert "Takes extended time before first decisions" in timed_profile.considerations

    metrics, profile = compute(attempt, script, accommodations=Accommodations(untimed=True))
    assert metrics == timed  # the figures are stored as they are; only their reading changes
    assert (profile.decision_pattern.speed, profile.decision_pattern.consistency) == ("moderate", "variable")
    assert (profile.decision_pattern.confidence, profile.decision_pattern.evidence) == (0.0, [TIME_NOT_INTERPRETED])
    assert (profile.thinking_style.primary, profile.thinking_style.confidence) == ("methodical", 0.0)
    assert profile.thinking_style.evidence == [TIME_NOT_INTERPRETED, "Option changes: avg 0.0 per task"]
    assert profile.strengths == []  # every strength these figures earn is time-based
    assert profile.considerations == ["Keeps written explanations brief", "Left the assessment window 1 time(s)"]
    assert profile.risk_orientation.preference == "risk_averse"
    assert profile.overall_summary == (
        "This candidate tends to choose lower-risk options, favouring safe, proven approaches. "
        "Their written reasoning is brief and informal."
    )
    assert profile.overall_summary.startswith(UNTIMED_SUMMARY_TEMPLATES["risk_averse"])
    assert profile.risk_orientation == timed_profile.risk_orientation
    assert profile.communication_style == timed_profile.communication_style
    say_nothing_of_accommodations(metrics, profile)


def test_assistive_technology_means_no_idle_and_no_away():
    attempt, script = slow_session(decision=8.0)
    plain, plain_profile = compute(attempt, script)
    assert plain.per_task_metrics[0].idle_time_seconds == 12.0
    assert plain.per_task_metrics[0].focus_loss_count == 1
    assert "Left the assessment window 1 time(s)" in plain_profile.considerations

    metrics, profile = compute(attempt, script, accommodations=Accommodations(assistive_technology=True))
    assert [t.idle_time_seconds for t in metrics.per_task_metrics] == [0.0, 0.0]
    assert [t.focus_loss_count for t in metrics.per_task_metrics] == [0, 0]
    assert metrics.aggregated_patterns.attention_stability == 1.0
    assert not any("focus" in s.lower() or "window" in s or "idle" in s for s in profile.strengths)
    assert not any("window" in c or "idle" in c for c in profile.considerations)
    # the same as a page that, with assistive technology set, sends no idle or focus events
    quiet = Script()
    quiet.events = [e for e in script.events if e.event_type not in ("idle_detected", "focus_lost", "focus_gained")]
    assert compute(attempt, quiet, accommodations=Accommodations(assistive_technology=True)) == (metrics, profile)
    say_nothing_of_accommodations(metrics, profile)


def say_nothing_of_accommodations(metrics: ComputedMetrics, profile: SkillProfile) -> None:
    text = json.dumps([metrics.model_dump(mode="json"), profile.model_dump(mode="json")]).lower()
    for word in ("accommodat", "assistive", "multiplier", "untimed", "extra time", "disab"):
        assert word not in text


# ---------------------------------------------------------------- keyboard


def four_option_task() -> Task:
    return make_task(("low", "medium", "high", "medium"))


def selection_streams(kind: str, tasks: list[Task]) -> Script:
    """Three tasks, the same final choices (opt_2, opt_3, opt_2) and the same
    pace, as each page sends them:

    * ``mouse``: the candidate clicks the option they want (``input`` pointer).
    * ``keyboard-old``: the page before issue 15, where every arrow key
      selects: Space on opt_1 then Down (task 1); Space on opt_1, Down x3,
      Up (task 2); Space on opt_2 (task 3), 130-170 ms apart, no ``input``.
    * ``keyboard-fixed``: the fixed page: arrows are views, the selection is
      committed once it stayed 800 ms, with the time it was made.
    """
    s = Script()
    walks = [["opt_1", "opt_2"], ["opt_1", "opt_2", "opt_3", "opt_4", "opt_3"], ["opt_2"]]
    gaps = [0.15, 0.13, 0.17, 0.14]
    start = 0.0
    for index, (task, walk) in enumerate(zip(tasks, walks, strict=True)):
        s.at(start, task, EventType.TASK_STARTED, task_index=index)
        s.at(start + 3, task, EventType.OPTION_VIEWED, option_id="opt_1", view_duration_ms=1500)
        first = start + 6
        times = [first]
        for gap in gaps[: len(walk) - 1]:
            times.append(round(times[-1] + gap, 3))
        if kind == "mouse":
            s.at(
                times[-1], task, EventType.OPTION_SELECTED, option_id=walk[-1], is_first_selection=True, input="pointer"
            )
        elif kind == "keyboard-old":
            s.at(first, task, EventType.OPTION_SELECTED, option_id=walk[0], is_first_selection=True)
            for k in range(1, len(walk)):
                s.at(
                    times[k],
                    task,
                    EventType.OPTION_CHANGED,
                    from_option_id=walk[k - 1],
                    to_option_id=walk[k],
                    time_since_last_change_ms=round((times[k] - times[k - 1]) * 1000),
                )
        else:  # keyboard-fixed: views as the arrows move, one selection 800 ms after the last
            for k in range(1, len(walk)):
                s.at(times[k], task, EventType.OPTION_VIEWED, option_id=walk[k - 1], view_duration_ms=140)
            commit = Script()
            commit.at(times[-1], task, EventType.OPTION_SELECTED, option_id=walk[-1], is_first_selection=True)
            event = commit.events[0]
            s.events.append(
                event.model_copy(
                    update={
                        "sequence_number": len(s.events) + 1,
                        "payload": {**event.payload, "input": "keyboard"},
                        "timestamp": event.timestamp + timedelta(milliseconds=KEYBOARD_COMMIT_MS),
                    }
                )
            )
        s.at(start + 8, task, EventType.REASONING_STARTED, time_since_task_start_ms=8000)
        s.submit(start + 12, task, TEXT)
        s.at(start + 13, task, EventType.TASK_COMPLETED, final_option_id=walk[-1], task_duration_ms=13_000)
        start += 15
    return s


def keyboard_and_mouse(version: str, keyboard: str) -> dict[str, tuple[ComputedMetrics, SkillProfile]]:
    tasks = [four_option_task() for _ in range(3)]
    attempt = make_attempt(tasks, completed_at=T0 + timedelta(seconds=43))
    return {kind: compute(attempt, selection_streams(kind, tasks), version) for kind in ("mouse", keyboard)}


def changes(metrics: ComputedMetrics) -> list[int]:
    return [t.decision_change_count for t in metrics.per_task_metrics]


def test_the_old_page_scored_a_keyboard_user_as_revising_under_1_0_0():
    result = keyboard_and_mouse("1.0.0", "keyboard-old")
    (mouse, mouse_profile), (keys, keys_profile) = result["mouse"], result["keyboard-old"]
    assert changes(mouse) == [0, 0, 0]
    assert changes(keys) == [1, 4, 0]
    assert [t.final_option_id for t in keys.per_task_metrics] == [t.final_option_id for t in mouse.per_task_metrics]
    assert mouse_profile.thinking_style.primary == "intuitive"
    assert keys_profile.thinking_style.primary == "methodical"
    assert "Commits to decisions quickly and decisively" in mouse_profile.strengths
    assert "Commits to decisions quickly and decisively" not in keys_profile.strengths


@pytest.mark.parametrize("keyboard", ["keyboard-fixed", "keyboard-old"])
def test_under_1_1_0_a_keyboard_user_and_a_mouse_user_with_the_same_choices_read_the_same(keyboard):
    result = keyboard_and_mouse("1.1.0", keyboard)
    (mouse, mouse_profile), (keys, keys_profile) = result["mouse"], result[keyboard]
    assert changes(mouse) == changes(keys) == [0, 0, 0]
    assert keys_profile.thinking_style == mouse_profile.thinking_style
    assert keys_profile.strengths == mouse_profile.strengths
    assert keys_profile.considerations == mouse_profile.considerations
    assert keys_profile.overall_summary == mouse_profile.overall_summary


def test_quick_pointer_changes_and_slow_keyboard_changes_still_count():
    a = make_task()
    s = Script().at(0, a, EventType.TASK_STARTED, task_index=0)
    s.at(1, a, EventType.OPTION_SELECTED, option_id="opt_1", is_first_selection=True)
    changed = EventType.OPTION_CHANGED
    s.at(1.3, a, changed, from_option_id="opt_1", to_option_id="opt_2", time_since_last_change_ms=300, input="pointer")
    s.at(1.5, a, changed, from_option_id="opt_2", to_option_id="opt_3", time_since_last_change_ms=200, input="touch")
    s.at(1.7, a, changed, from_option_id="opt_3", to_option_id="opt_1", time_since_last_change_ms=200, input="keyboard")
    s.at(1.9, a, changed, from_option_id="opt_1", to_option_id="opt_2", time_since_last_change_ms=200)
    s.at(2.7, a, changed, from_option_id="opt_2", to_option_id="opt_3", time_since_last_change_ms=800, input="keyboard")
    s.at(9, a, changed, from_option_id="opt_3", to_option_id="opt_1", time_since_last_change_ms=6300)
    s.at(10, a, EventType.TASK_COMPLETED, final_option_id="opt_1", task_duration_ms=0)
    attempt = make_attempt([a], completed_at=completed_at(10))
    assert changes(compute(attempt, s, "1.0.0")[0]) == [6]
    # counted: pointer 300, touch 200, keyboard 800 (not below the bar), unknown 6300
    assert changes(compute(attempt, s)[0]) == [4]
