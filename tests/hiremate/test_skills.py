"""interpret against seed section 8 and docs/metrics.md: every branch, every
threshold's edge, every template, strength and consideration."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from hypothesis import given, settings
from hypothesis import strategies as st

from hiremate.metrics import compute_metrics
from hiremate.models import (
    AggregatedPatterns,
    AttemptStatus,
    ComputedMetrics,
    GlobalMetrics,
    PerTaskMetrics,
    RiskPreference,
)
from hiremate.ops.simulate import simulate_session
from hiremate.skills import NO_TASK_SUMMARY, SUMMARY_TEMPLATES, VERSION, interpret
from tests.hiremate.test_metrics import COMPUTED_AT, completed_at, decisions_script, make_attempt, make_task

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def task(
    *,
    decision: float = 15.0,
    changes: int = 0,
    depth: float = 0.5,
    words: int = 30,
    keywords: int = 2,
    focus_losses: int = 0,
    risk: str = "medium",
) -> PerTaskMetrics:
    return PerTaskMetrics(
        task_id=ObjectId(),
        time_spent_seconds=60.0,
        hesitation_seconds=10.0,
        first_decision_speed_seconds=decision,
        decision_change_count=changes,
        final_option_id="opt_1",
        final_option_risk_level=risk,
        reasoning_depth_score=depth,
        reasoning_word_count=words,
        reasoning_logical_keywords_count=keywords,
        idle_time_seconds=0.0,
        focus_loss_count=focus_losses,
    )


def metrics(
    tasks: list[PerTaskMetrics],
    *,
    hesitation: float = 60.0,
    total_tasks: int | None = None,
    consistency: float = 0.5,
    attention: float = 0.8,
    risk: tuple[int, int, int, str] = (0, 1, 1, "balanced"),
) -> ComputedMetrics:
    low, medium, high, dominant = risk
    return ComputedMetrics(
        attempt_id=ObjectId(),
        computed_at=NOW,
        version="1.0.0",
        global_metrics=GlobalMetrics(
            total_time_seconds=600.0,
            active_interaction_time_seconds=100.0,
            hesitation_time_seconds=hesitation,
            total_tasks=len(tasks) if total_tasks is None else total_tasks,
            tasks_completed=len(tasks),
            avg_time_per_task_seconds=60.0,
        ),
        per_task_metrics=tasks,
        aggregated_patterns=AggregatedPatterns(
            risk_preference=RiskPreference(low_count=low, medium_count=medium, high_count=high, dominant=dominant),
            decision_consistency=consistency,
            reasoning_engagement=0.5,
            attention_stability=attention,
        ),
    )


def profile(*args, **kwargs):
    return interpret(metrics(*args, **kwargs), generated_at=NOW)


# ---------------------------------------------------------------- thinking style


@pytest.mark.parametrize(
    ("hesitation", "total_tasks", "changes", "depth", "style", "confidence", "evidence"),
    [
        (62.0, 2, [1, 1], [0.8, 0.7], "analytical", 0.85, ["High deliberation time (avg 31.0s per task)", "Strong reasoning depth (75%)"]),
        (60.0, 2, [1, 1], [0.9, 0.9], "methodical", 0.7, ["Balanced approach (avg 30.0s deliberation)", "Moderate adjustments (1.0 changes per task)"]),
        (62.0, 2, [1, 1], [0.7, 0.7], "methodical", 0.7, ["Balanced approach (avg 31.0s deliberation)", "Moderate adjustments (1.0 changes per task)"]),
        (19.8, 2, [3, 2], [0.2, 0.2], "exploratory", 0.8, ["Quick initial decisions (avg 9.9s)", "Multiple option changes (avg 2.5 per task)"]),
        (19.8, 2, [2, 2], [0.2, 0.2], "methodical", 0.7, ["Balanced approach (avg 9.9s deliberation)", "Moderate adjustments (2.0 changes per task)"]),
        (20.0, 2, [3, 3], [0.2, 0.2], "methodical", 0.7, ["Balanced approach (avg 10.0s deliberation)", "Moderate adjustments (3.0 changes per task)"]),
        (29.8, 2, [1, 0], [0.2, 0.2], "intuitive", 0.75, ["Fast decision-making (avg 14.9s)", "Minimal revision (0.5 changes per task)"]),
        (30.0, 2, [0, 0], [0.2, 0.2], "methodical", 0.7, ["Balanced approach (avg 15.0s deliberation)", "Moderate adjustments (0.0 changes per task)"]),
        (10.0, 2, [1, 1], [0.2, 0.2], "methodical", 0.7, ["Balanced approach (avg 5.0s deliberation)", "Moderate adjustments (1.0 changes per task)"]),
        # hesitation is divided by all tasks of the attempt, completed or not
        (62.0, 4, [1, 1], [0.9, 0.9], "methodical", 0.7, ["Balanced approach (avg 15.5s deliberation)", "Moderate adjustments (1.0 changes per task)"]),
    ],
)  # fmt: skip
def test_thinking_style(hesitation, total_tasks, changes, depth, style, confidence, evidence):
    tasks = [task(changes=c, depth=d) for c, d in zip(changes, depth, strict=True)]
    result = profile(tasks, hesitation=hesitation, total_tasks=total_tasks).thinking_style
    assert (result.primary, result.confidence, result.evidence) == (style, confidence, evidence)


# ---------------------------------------------------------------- decision pattern


@pytest.mark.parametrize(
    ("decisions", "speed"),
    [
        ([9.9999], "fast"),
        ([5.0, 14.9998], "fast"),
        ([10.0], "moderate"),
        ([30.0], "moderate"),
        ([30.0001], "deliberate"),
    ],
)
def test_decision_speed(decisions, speed):
    assert profile([task(decision=d) for d in decisions]).decision_pattern.speed == speed


@pytest.mark.parametrize(
    ("decisions", "consistency", "label"),
    [
        ([20.0, 20.0], 0.7, "steady"),
        ([20.0, 20.0], 0.6999, "variable"),
        ([20.0, 20.0, 16.0], 0.5, "variable"),  # improving needs 4 tasks
        ([20.0, 20.0, 16.0, 16.0], 0.5, "improving"),  # 16 <= 0.8 * 20
        ([20.0, 20.0, 16.0, 16.0002], 0.5, "variable"),
        ([20.0, 20.0, 16.0, 16.0], 0.7, "steady"),  # steady first
        ([30.0, 10.0, 999.0, 8.0, 8.0], 0.5, "improving"),  # the middle task is in neither half
        ([30.0, 10.0, 0.0, 17.0, 15.1], 0.5, "variable"),
        ([10.0, 10.0, 999.0, 9.0, 9.0], 0.5, "variable"),
        ([10.0, 10.0, 10.0, 30.0, 1.0, 1.0], 0.5, "variable"),  # halves of 3: 10 vs 10.67
        ([12.0, 10.0, 10.0, 10.0, 1.0, 6.0], 0.5, "improving"),  # halves of 3: 32/3 vs 17/3
    ],
)
def test_decision_consistency_label(decisions, consistency, label):
    result = profile([task(decision=d) for d in decisions], consistency=consistency).decision_pattern
    assert result.consistency == label
    assert result.evidence[1] == f"Decision timing consistency {consistency:.0%}"


def test_one_task_is_too_few_to_judge_consistency():
    result = profile([task(decision=12.34)], consistency=1.0).decision_pattern
    assert result.consistency == "variable"
    assert result.evidence == ["Average first decision after 12.3s", "Too few tasks to judge consistency"]


@pytest.mark.parametrize(("completed", "confidence"), [(1, 0.55), (3, 0.65), (8, 0.9), (9, 0.95), (10, 0.95)])
def test_decision_confidence(completed, confidence):
    assert profile([task() for _ in range(completed)]).decision_pattern.confidence == confidence


def test_decision_evidence():
    result = profile([task(decision=8.0), task(decision=13.0)], consistency=0.7273).decision_pattern
    assert result.evidence == ["Average first decision after 10.5s", "Decision timing consistency 73%"]


# ---------------------------------------------------------------- risk orientation


@pytest.mark.parametrize(
    ("risk", "preference", "confidence", "evidence"),
    [
        ((4, 1, 0, "low"), "risk_averse", 0.8, ["Selected low-risk options in 4 tasks", "Prefers cautious, safe approaches"]),
        ((2, 1, 0, "low"), "risk_averse", 0.6667, ["Selected low-risk options in 2 tasks", "Prefers cautious, safe approaches"]),
        ((0, 1, 2, "high"), "risk_tolerant", 0.6667, ["Selected high-risk options in 2 tasks", "Comfortable with bold decisions"]),
        ((0, 3, 1, "medium"), "balanced", 0.6, ["No strong preference for risk level", "Adapts approach based on context"]),
        ((1, 1, 1, "balanced"), "balanced", 0.6, ["No strong preference for risk level", "Adapts approach based on context"]),
    ],
)  # fmt: skip
def test_risk_orientation(risk, preference, confidence, evidence):
    result = profile([task()], risk=risk).risk_orientation
    assert (result.preference, result.confidence, result.evidence) == (preference, confidence, evidence)


# ---------------------------------------------------------------- communication style


@pytest.mark.parametrize(
    ("words", "keywords", "depth", "structure", "evidence"),
    [
        ([51, 51], [4, 3], "detailed", "structured", ["Average 51 words per explanation", "Uses 3.5 logical connectors per response"]),
        ([50, 50], [3, 3], "moderate", "semi_structured", ["Average 50 words per explanation", "Uses 3.0 logical connectors per response"]),
        ([26, 26], [2, 1], "moderate", "semi_structured", ["Average 26 words per explanation", "Uses 1.5 logical connectors per response"]),
        ([25, 25], [1, 1], "brief", "informal", ["Average 25 words per explanation", "Uses 1.0 logical connectors per response"]),
        ([0, 0], [0, 0], "brief", "informal", ["Average 0 words per explanation", "Uses 0.0 logical connectors per response"]),
    ],
)  # fmt: skip
def test_communication_style(words, keywords, depth, structure, evidence):
    tasks = [task(words=w, keywords=k) for w, k in zip(words, keywords, strict=True)]
    result = profile(tasks).communication_style
    assert (result.reasoning_depth, result.logical_structure, result.evidence) == (depth, structure, evidence)
    assert result.confidence == 0.8


# ---------------------------------------------------------------- summary

SEED_TEMPLATES = {
    ("analytical", "risk_averse"): "This candidate demonstrates a thoughtful, analytical approach to problem-solving. They take time to consider options carefully and prefer lower-risk solutions with well-structured reasoning.",
    ("intuitive", "risk_tolerant"): "This candidate shows confident, intuitive decision-making. They commit to choices quickly and are comfortable with higher-stakes options, suggesting comfort with ambiguity.",
    ("exploratory", "balanced"): "This candidate exhibits an exploratory thinking style, testing multiple possibilities before settling. They show flexibility across risk levels, adapting their approach to context.",
}  # fmt: skip
EMOTION_WORDS = re.compile(r"\b(anxious|stressed|nervous|frustrated|calm|confident person|worried|afraid|fearful)\b")


def test_the_seeds_three_templates_word_for_word():
    for key, text in SEED_TEMPLATES.items():
        assert SUMMARY_TEMPLATES[key] == text


def test_twelve_distinct_templates_one_per_pair():
    styles = {"analytical", "intuitive", "exploratory", "methodical"}
    orientations = {"risk_averse", "balanced", "risk_tolerant"}
    assert set(SUMMARY_TEMPLATES) == {(s, o) for s in styles for o in orientations}
    assert len(set(SUMMARY_TEMPLATES.values())) == 12


@pytest.mark.parametrize("key", sorted(SUMMARY_TEMPLATES))
def test_templates_describe_behaviour_not_emotions(key):
    text = SUMMARY_TEMPLATES[key].lower()
    assert not EMOTION_WORDS.search(text)
    if key not in SEED_TEMPLATES:  # the seed's own wording stays as written
        assert "confident" not in text
    assert text.startswith("this candidate ")


@pytest.mark.parametrize(
    ("words", "keywords", "sentence"),
    [
        (60, 4, "Their written reasoning is detailed and clearly structured."),
        (30, 2, "Their written reasoning is moderate and partly structured."),
        (10, 0, "Their written reasoning is brief and informal."),
    ],
)
def test_summary_is_the_template_and_a_sentence_on_writing(words, keywords, sentence):
    # analytical + risk averse: 31 s hesitation a task, deep reasoning, mostly low risk
    result = profile(
        [task(words=words, keywords=keywords, depth=0.8, changes=1)] * 2, hesitation=62.0, risk=(2, 0, 0, "low")
    )
    assert result.overall_summary == f"{SEED_TEMPLATES[('analytical', 'risk_averse')]} {sentence}"


# ---------------------------------------------------------------- strengths and considerations

ALL_STRENGTHS = [
    "Explains decisions with clearly structured reasoning",
    "Gives detailed written explanations",
    "Commits to decisions quickly and decisively",
    "Weighs options carefully before deciding",
    "Keeps a consistent decision rhythm across tasks",
    "Stays focused throughout the assessment",
]


def test_every_strength_in_order():
    # analytical (62 s over 2 tasks, depth 0.8) yet fast first decisions without changes
    tasks = [task(decision=5.0, changes=0, depth=0.8, words=60, keywords=4)] * 2
    result = profile(tasks, hesitation=62.0, consistency=0.7, attention=0.9)
    assert result.strengths == ALL_STRENGTHS


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"keywords": 3}, "Explains decisions with clearly structured reasoning"),
        ({"words": 50}, "Gives detailed written explanations"),
        ({"decision": 10.0}, "Commits to decisions quickly and decisively"),
        ({"changes": 1}, "Commits to decisions quickly and decisively"),
        ({"depth": 0.7}, "Weighs options carefully before deciding"),
        ({"consistency": 0.6999}, "Keeps a consistent decision rhythm across tasks"),
        ({"attention": 0.8999}, "Stays focused throughout the assessment"),
    ],
)
def test_each_strength_needs_its_condition(overrides, missing):
    task_fields = {"decision": 5.0, "changes": 0, "depth": 0.8, "words": 60, "keywords": 4}
    metric_fields = {"hesitation": 62.0, "consistency": 0.7, "attention": 0.9}
    for name, value in overrides.items():
        (task_fields if name in task_fields else metric_fields)[name] = value
    result = profile([task(**task_fields)] * 2, **metric_fields)
    assert result.strengths == [s for s in ALL_STRENGTHS if s != missing]


def test_steady_needs_two_tasks():
    result = profile([task(decision=5.0, words=60, keywords=4)], consistency=1.0, attention=0.9)
    assert "Keeps a consistent decision rhythm across tasks" not in result.strengths


def test_every_consideration_in_order():
    tasks = [
        task(decision=40.0, changes=3, words=10, focus_losses=2),
        task(decision=40.0, changes=2, focus_losses=1, words=10),
    ]
    result = profile(tasks, attention=0.6999)
    assert result.considerations == [
        "Revisits choices often (avg 2.5 changes per task)",
        "Keeps written explanations brief",
        "Left the assessment window 3 time(s)",
        "Spent a notable share of time idle or away",
        "Takes extended time before first decisions",
    ]


@pytest.mark.parametrize(
    ("tasks", "attention", "expected"),
    [
        ([task(changes=2, words=30)], 0.7, []),
        ([task(changes=3, words=30)], 0.7, ["Revisits choices often (avg 3.0 changes per task)"]),
        ([task(words=25)], 0.7, ["Keeps written explanations brief"]),
        ([task(words=30, focus_losses=1)], 0.7, ["Left the assessment window 1 time(s)"]),
        ([task(words=30)], 0.6999, ["Spent a notable share of time idle or away"]),
        ([task(words=30, decision=30.0001)], 0.7, ["Takes extended time before first decisions"]),
    ],
)
def test_each_consideration_needs_its_condition(tasks, attention, expected):
    assert profile(tasks, attention=attention).considerations == expected


# ---------------------------------------------------------------- no completed task, shape


def test_no_completed_task_profile():
    result = profile([], hesitation=0.0, total_tasks=0, consistency=1.0, attention=1.0, risk=(0, 0, 0, "balanced"))
    evidence = ["No task was completed"]
    assert (result.thinking_style.primary, result.thinking_style.confidence) == ("methodical", 0.0)
    assert (result.decision_pattern.speed, result.decision_pattern.consistency) == ("moderate", "variable")
    assert (result.risk_orientation.preference, result.risk_orientation.confidence) == ("balanced", 0.0)
    assert (result.communication_style.reasoning_depth, result.communication_style.logical_structure) == (
        "brief",
        "informal",
    )
    for part in (result.thinking_style, result.decision_pattern, result.risk_orientation, result.communication_style):
        assert part.evidence == evidence
        assert part.confidence == 0.0
    assert (
        result.overall_summary
        == NO_TASK_SUMMARY
        == "No task was completed, so no behavioural observations are available."
    )
    assert result.strengths == []
    assert result.considerations == evidence


def test_profile_document_fields_left_for_the_caller():
    m = metrics([task()])
    result = interpret(m, generated_at=NOW)
    assert result.attempt_id == m.attempt_id
    # the profile's rules are those of its metrics, whichever version they are
    assert (result.version, result.generated_at) == (m.version, NOW) == ("1.0.0", NOW)
    assert interpret(m.model_copy(update={"version": VERSION}), generated_at=NOW).version == VERSION == "1.2.0"
    assert result.id is result.metrics_id is None
    assert result.organization_id is result.candidate_name is result.candidate_email is None
    assert result.position is result.completed_at is result.attempt_status is None


def test_interpret_reads_the_rounded_metrics():
    # first decisions 65.002 s and 34.998 s: consistency 0.69996 before
    # rounding, 0.7 in the document, so the timing reads as steady
    tasks = [make_task(), make_task()]
    attempt = make_attempt(tasks, completed_at=completed_at(200))
    events = decisions_script(tasks, [65.002, 34.998]).events
    m = compute_metrics(attempt, tasks, events, computed_at=COMPUTED_AT)
    assert m.aggregated_patterns.decision_consistency == 0.7
    assert interpret(m, generated_at=NOW).decision_pattern.consistency == "steady"


# ---------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 10), st.integers(0, 10))
def test_generated_sessions_always_give_a_valid_repeatable_profile(seed, task_count, stop):
    session = simulate_session(seed, task_count=task_count, stop_after_tasks=stop)
    attempt = session.attempt if session.attempt.status == "completed" else session.ended(AttemptStatus.EXPIRED)
    # the rules this file checks; 1.2.0's own property is in test_metrics_1_2.py
    m = compute_metrics(attempt, session.tasks, session.behavior_events, computed_at=NOW, version="1.1.0")
    first, second = interpret(m, generated_at=NOW), interpret(m, generated_at=NOW)
    as_json = [json.dumps(p.model_dump(mode="json"), sort_keys=True) for p in (first, second)]
    assert as_json[0] == as_json[1]
    for part in (first.thinking_style, first.decision_pattern, first.risk_orientation, first.communication_style):
        assert 0.0 <= part.confidence <= 1.0
        assert part.confidence == round(part.confidence, 4)
        assert part.evidence
    assert not EMOTION_WORDS.search(first.overall_summary.lower())
    assert set(first.strengths) <= set(ALL_STRENGTHS)
