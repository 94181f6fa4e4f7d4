"""Computed metrics -> an explainable skill profile (seed section 8 as fixed
by docs/metrics.md).

Pure: no database, no clock. It reads the metrics document as stored, with
floats already rounded, so every threshold compares the numbers a
recruiter can see. The wording describes how decisions were made, never a
person's feelings.

The rule version is the metrics document's: ``"1.0.0"`` as it always was,
``"1.1.0"`` with the accommodations rule (untimed: no time-based reading;
assistive technology: no idle or attention statement), ``"1.2.0"`` with
honest labels: an ``evidence_level``, no dimensions without a completed
task, sentences that name what was measured, middle-ground choices said as
such. Nothing written says that an accommodation exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hiremate.metrics import LATEST, VERSION_1_0, VERSION_1_1, VERSIONS
from hiremate.models import (
    Accommodations,
    CommunicationStyleResult,
    ComputedMetrics,
    DecisionConsistency,
    DecisionPatternResult,
    DecisionSpeed,
    EvidenceLevel,
    LogicalStructure,
    PerTaskMetrics,
    ReasoningDepth,
    RiskDominance,
    RiskOrientationLabel,
    RiskOrientationResult,
    RiskPreference,
    SkillProfile,
    ThinkingStyle,
    ThinkingStyleResult,
)

VERSION = LATEST  # the version new profiles are interpreted with (that of their metrics)
DIGITS = 4

NO_TASK_EVIDENCE = "No task was completed"
NO_TASK_SUMMARY = "No task was completed, so no behavioural observations are available."
TOO_FEW_TASKS_EVIDENCE = "Too few tasks to judge consistency"
# 1.1.0, untimed attempts: neutral words that do not say why.
TIME_NOT_INTERPRETED = "Time-based observations are not interpreted for this attempt"

_ANALYTICAL = (
    "This candidate demonstrates a thoughtful, analytical approach to problem-solving. "
    "They take time to consider options carefully"
)
_INTUITIVE = "This candidate shows quick, intuitive decision-making. They commit to choices with little revision"
_EXPLORATORY = "This candidate exhibits an exploratory thinking style, testing multiple possibilities before settling."
_METHODICAL = (
    "This candidate follows a methodical approach to decisions, pairing a moderate amount of deliberation "
    "with occasional revision."
)

# One template for each (thinking style, risk orientation). The three the
# seed writes out (section 8.4) are kept word for word.
SUMMARY_TEMPLATES: dict[tuple[ThinkingStyle, RiskOrientationLabel], str] = {
    (ThinkingStyle.ANALYTICAL, RiskOrientationLabel.RISK_AVERSE): (
        "This candidate demonstrates a thoughtful, analytical approach to problem-solving. They take time to "
        "consider options carefully and prefer lower-risk solutions with well-structured reasoning."
    ),
    (ThinkingStyle.ANALYTICAL, RiskOrientationLabel.BALANCED): (
        f"{_ANALYTICAL} and choose across risk levels, matching the level of risk to the situation."
    ),
    (ThinkingStyle.ANALYTICAL, RiskOrientationLabel.RISK_TOLERANT): (
        f"{_ANALYTICAL} and often choose higher-risk options once they have weighed them."
    ),
    (ThinkingStyle.INTUITIVE, RiskOrientationLabel.RISK_AVERSE): (
        f"{_INTUITIVE} and tend to choose lower-risk options, favouring safe, proven approaches."
    ),
    (ThinkingStyle.INTUITIVE, RiskOrientationLabel.BALANCED): (
        f"{_INTUITIVE} and choose across risk levels, adapting their approach to context."
    ),
    (ThinkingStyle.INTUITIVE, RiskOrientationLabel.RISK_TOLERANT): (
        "This candidate shows confident, intuitive decision-making. They commit to choices quickly and are "
        "comfortable with higher-stakes options, suggesting comfort with ambiguity."
    ),
    (ThinkingStyle.EXPLORATORY, RiskOrientationLabel.RISK_AVERSE): (
        f"{_EXPLORATORY} After comparing alternatives they tend to settle on lower-risk options."
    ),
    (ThinkingStyle.EXPLORATORY, RiskOrientationLabel.BALANCED): (
        "This candidate exhibits an exploratory thinking style, testing multiple possibilities before settling. "
        "They show flexibility across risk levels, adapting their approach to context."
    ),
    (ThinkingStyle.EXPLORATORY, RiskOrientationLabel.RISK_TOLERANT): (
        f"{_EXPLORATORY} After comparing alternatives they often settle on higher-risk options."
    ),
    (ThinkingStyle.METHODICAL, RiskOrientationLabel.RISK_AVERSE): (
        f"{_METHODICAL} They tend to prefer lower-risk options and cautious approaches."
    ),
    (ThinkingStyle.METHODICAL, RiskOrientationLabel.BALANCED): (
        f"{_METHODICAL} They choose across risk levels, adapting their approach to context."
    ),
    (ThinkingStyle.METHODICAL, RiskOrientationLabel.RISK_TOLERANT): (
        f"{_METHODICAL} They often choose higher-risk options with bolder outcomes."
    ),
}

# 1.1.0, untimed attempts: the summary without a time-based thinking style.
UNTIMED_SUMMARY_TEMPLATES: dict[RiskOrientationLabel, str] = {
    RiskOrientationLabel.RISK_AVERSE: (
        "This candidate tends to choose lower-risk options, favouring safe, proven approaches."
    ),
    RiskOrientationLabel.BALANCED: "This candidate chooses across risk levels, adapting their approach to context.",
    RiskOrientationLabel.RISK_TOLERANT: "This candidate often chooses higher-risk options with bolder outcomes.",
}

_STRUCTURE_WORDS = {
    LogicalStructure.STRUCTURED: "clearly structured",
    LogicalStructure.SEMI_STRUCTURED: "partly structured",
    LogicalStructure.INFORMAL: "informal",
}


def interpret(
    metrics: ComputedMetrics, *, generated_at: datetime, accommodations: Accommodations | None = None
) -> SkillProfile:
    """The ``skill_profiles`` document for one metrics document; ``_id``,
    ``metrics_id`` and the candidate fields are left for the caller.

    The rules are those of ``metrics.version``, which the profile records.
    ``accommodations`` are the attempt's: 1.1.0 reads ``untimed`` and
    ``assistive_technology`` (the time multiplier is already in the
    metrics); 1.0.0 ignores them.
    """
    if metrics.version not in VERSIONS:
        raise ValueError(f"unknown rule version {metrics.version!r}; known: {', '.join(VERSIONS)}")
    if metrics.version not in _BEFORE_1_2:
        return _interpret_1_2(metrics, generated_at, accommodations)
    if not metrics.per_task_metrics:
        return _no_task_profile(metrics, generated_at)
    reading = _Reading.of(metrics.version, accommodations)
    if reading.timed:
        thinking = thinking_style(metrics)
        decision = decision_pattern(metrics)
    else:
        thinking = _untimed_thinking_style(metrics)
        decision = _untimed_decision_pattern()
    risk = risk_orientation(metrics.aggregated_patterns.risk_preference)
    communication = communication_style(metrics.per_task_metrics)
    return SkillProfile(
        attempt_id=metrics.attempt_id,
        generated_at=generated_at,
        version=metrics.version,
        thinking_style=thinking,
        decision_pattern=decision,
        risk_orientation=risk,
        communication_style=communication,
        overall_summary=summary(thinking, risk, communication)
        if reading.timed
        else _untimed_summary(risk, communication),
        strengths=strengths(metrics, thinking, decision, communication, reading),
        considerations=considerations(metrics, decision, communication, reading),
    )


class _Reading:
    """Which observations a profile interprets: all of them in 1.0.0; in
    1.1.0 none based on time for an untimed attempt, and none on idle or
    attention with assistive technology."""

    def __init__(self, *, timed: bool = True, attention: bool = True) -> None:
        self.timed = timed
        self.attention = attention

    @classmethod
    def of(cls, version: str, accommodations: Accommodations | None) -> _Reading:
        if version == VERSION_1_0 or accommodations is None:
            return cls()
        return cls(timed=not accommodations.untimed, attention=not accommodations.assistive_technology)


_ALL = _Reading()
_BEFORE_1_2 = (VERSION_1_0, VERSION_1_1)


# ---------------------------------------------------------------- the four readings


def thinking_style(metrics: ComputedMetrics) -> ThinkingStyleResult:
    """Seed 8.1, with the division by ``total_tasks`` guarded."""
    tasks = metrics.per_task_metrics
    total_tasks = metrics.global_metrics.total_tasks
    avg_hesitation = metrics.global_metrics.hesitation_time_seconds / total_tasks if total_tasks else 0.0
    avg_changes = _mean_changes(tasks)
    avg_reasoning_depth = _mean([t.reasoning_depth_score for t in tasks])
    if avg_hesitation > 30 and avg_reasoning_depth > 0.7:
        return _thinking(
            ThinkingStyle.ANALYTICAL,
            0.85,
            f"High deliberation time (avg {avg_hesitation:.1f}s per task)",
            f"Strong reasoning depth ({avg_reasoning_depth:.0%})",
        )
    if avg_hesitation < 10 and avg_changes > 2:
        return _thinking(
            ThinkingStyle.EXPLORATORY,
            0.8,
            f"Quick initial decisions (avg {avg_hesitation:.1f}s)",
            f"Multiple option changes (avg {avg_changes:.1f} per task)",
        )
    if avg_hesitation < 15 and avg_changes < 1:
        return _thinking(
            ThinkingStyle.INTUITIVE,
            0.75,
            f"Fast decision-making (avg {avg_hesitation:.1f}s)",
            f"Minimal revision ({avg_changes:.1f} changes per task)",
        )
    return _thinking(
        ThinkingStyle.METHODICAL,
        0.7,
        f"Balanced approach (avg {avg_hesitation:.1f}s deliberation)",
        f"Moderate adjustments ({avg_changes:.1f} changes per task)",
    )


def decision_pattern(metrics: ComputedMetrics) -> DecisionPatternResult:
    """docs/metrics.md's rule (the seed names the fields only)."""
    decisions = [t.first_decision_speed_seconds for t in metrics.per_task_metrics]
    consistency = metrics.aggregated_patterns.decision_consistency
    average = _mean(decisions)
    label, consistency_evidence = _consistency(decisions, consistency)
    return DecisionPatternResult(
        speed=_speed(average),
        consistency=label,
        confidence=_round(min(0.95, 0.5 + 0.05 * metrics.global_metrics.tasks_completed)),
        evidence=[f"Average first decision after {average:.1f}s", consistency_evidence],
    )


def risk_orientation(preference: RiskPreference) -> RiskOrientationResult:
    """Seed 8.2."""
    total = preference.low_count + preference.medium_count + preference.high_count
    if preference.dominant == RiskDominance.LOW:
        return RiskOrientationResult(
            preference=RiskOrientationLabel.RISK_AVERSE,
            confidence=_round(preference.low_count / total),
            evidence=[
                f"Selected low-risk options in {preference.low_count} tasks",
                "Prefers cautious, safe approaches",
            ],
        )
    if preference.dominant == RiskDominance.HIGH:
        return RiskOrientationResult(
            preference=RiskOrientationLabel.RISK_TOLERANT,
            confidence=_round(preference.high_count / total),
            evidence=[
                f"Selected high-risk options in {preference.high_count} tasks",
                "Comfortable with bold decisions",
            ],
        )
    return RiskOrientationResult(
        preference=RiskOrientationLabel.BALANCED,
        confidence=0.6,
        evidence=["No strong preference for risk level", "Adapts approach based on context"],
    )


def communication_style(tasks: Sequence[PerTaskMetrics]) -> CommunicationStyleResult:
    """Seed 8.3."""
    avg_word_count = _mean([t.reasoning_word_count for t in tasks])
    avg_logical_keywords = _mean([t.reasoning_logical_keywords_count for t in tasks])
    if avg_word_count > 50:
        depth = ReasoningDepth.DETAILED
    elif avg_word_count > 25:
        depth = ReasoningDepth.MODERATE
    else:
        depth = ReasoningDepth.BRIEF
    if avg_logical_keywords > 3:
        structure = LogicalStructure.STRUCTURED
    elif avg_logical_keywords > 1:
        structure = LogicalStructure.SEMI_STRUCTURED
    else:
        structure = LogicalStructure.INFORMAL
    return CommunicationStyleResult(
        reasoning_depth=depth,
        logical_structure=structure,
        confidence=0.8,
        evidence=[
            f"Average {avg_word_count:.0f} words per explanation",
            f"Uses {avg_logical_keywords:.1f} logical connectors per response",
        ],
    )


# ---------------------------------------------------------------- the words around them


def summary(thinking: ThinkingStyleResult, risk: RiskOrientationResult, communication: CommunicationStyleResult) -> str:
    """Seed 8.4's template for the pair, then one sentence on the writing."""
    template = SUMMARY_TEMPLATES[(ThinkingStyle(thinking.primary), RiskOrientationLabel(risk.preference))]
    structure_words = _STRUCTURE_WORDS[LogicalStructure(communication.logical_structure)]
    return f"{template} Their written reasoning is {communication.reasoning_depth} and {structure_words}."


def strengths(
    metrics: ComputedMetrics,
    thinking: ThinkingStyleResult,
    decision: DecisionPatternResult,
    communication: CommunicationStyleResult,
    reading: _Reading = _ALL,
) -> list[str]:
    """docs/metrics.md's strengths table, in its order (1.1.0: without the
    time-based rows for an untimed attempt, without attention with
    assistive technology)."""
    timed, attention = reading.timed, reading.attention
    rules = [
        (
            communication.logical_structure == LogicalStructure.STRUCTURED,
            "Explains decisions with clearly structured reasoning",
        ),
        (communication.reasoning_depth == ReasoningDepth.DETAILED, "Gives detailed written explanations"),
        (
            timed and decision.speed == DecisionSpeed.FAST and _mean_changes(metrics.per_task_metrics) < 1,
            "Commits to decisions quickly and decisively",
        ),
        (timed and thinking.primary == ThinkingStyle.ANALYTICAL, "Weighs options carefully before deciding"),
        (
            timed and decision.consistency == DecisionConsistency.STEADY,
            "Keeps a consistent decision rhythm across tasks",
        ),
        (
            timed and attention and metrics.aggregated_patterns.attention_stability >= 0.9,
            "Stays focused throughout the assessment",
        ),
    ]
    return [text for holds, text in rules if holds]


def considerations(
    metrics: ComputedMetrics,
    decision: DecisionPatternResult,
    communication: CommunicationStyleResult,
    reading: _Reading = _ALL,
) -> list[str]:
    """docs/metrics.md's considerations table, in its order: neutral
    observations, never weaknesses (1.1.0: without the time-based rows for
    an untimed attempt, without attention with assistive technology)."""
    timed, attention = reading.timed, reading.attention
    avg_changes = _mean_changes(metrics.per_task_metrics)
    focus_losses = sum(t.focus_loss_count for t in metrics.per_task_metrics)
    rules = [
        (avg_changes > 2, f"Revisits choices often (avg {avg_changes:.1f} changes per task)"),
        (communication.reasoning_depth == ReasoningDepth.BRIEF, "Keeps written explanations brief"),
        (attention and focus_losses > 0, f"Left the assessment window {focus_losses} time(s)"),
        (
            timed and attention and metrics.aggregated_patterns.attention_stability < 0.7,
            "Spent a notable share of time idle or away",
        ),
        (timed and decision.speed == DecisionSpeed.DELIBERATE, "Takes extended time before first decisions"),
    ]
    return [text for holds, text in rules if holds]


# ---------------------------------------------------------------- helpers


def _untimed_thinking_style(metrics: ComputedMetrics) -> ThinkingStyleResult:
    """1.1.0, untimed: every thinking style reads hesitation, so none is
    chosen: the neutral label with confidence 0, as for an attempt without
    a completed task."""
    changes = _mean_changes(metrics.per_task_metrics)
    return _thinking(ThinkingStyle.METHODICAL, 0.0, TIME_NOT_INTERPRETED, f"Option changes: avg {changes:.1f} per task")


def _untimed_decision_pattern() -> DecisionPatternResult:
    return DecisionPatternResult(
        speed=DecisionSpeed.MODERATE,
        consistency=DecisionConsistency.VARIABLE,
        confidence=0.0,
        evidence=[TIME_NOT_INTERPRETED],
    )


def _untimed_summary(risk: RiskOrientationResult, communication: CommunicationStyleResult) -> str:
    template = UNTIMED_SUMMARY_TEMPLATES[RiskOrientationLabel(risk.preference)]
    structure_words = _STRUCTURE_WORDS[LogicalStructure(communication.logical_structure)]
    return f"{template} Their written reasoning is {communication.reasoning_depth} and {structure_words}."


def _no_task_profile(metrics: ComputedMetrics, generated_at: datetime) -> SkillProfile:
    evidence = [NO_TASK_EVIDENCE]
    return SkillProfile(
        attempt_id=metrics.attempt_id,
        generated_at=generated_at,
        version=metrics.version,
        thinking_style=ThinkingStyleResult(primary=ThinkingStyle.METHODICAL, confidence=0.0, evidence=evidence),
        decision_pattern=DecisionPatternResult(
            speed=DecisionSpeed.MODERATE,
            consistency=DecisionConsistency.VARIABLE,
            confidence=0.0,
            evidence=evidence,
        ),
        risk_orientation=RiskOrientationResult(
            preference=RiskOrientationLabel.BALANCED, confidence=0.0, evidence=evidence
        ),
        communication_style=CommunicationStyleResult(
            reasoning_depth=ReasoningDepth.BRIEF,
            logical_structure=LogicalStructure.INFORMAL,
            confidence=0.0,
            evidence=evidence,
        ),
        overall_summary=NO_TASK_SUMMARY,
        strengths=[],
        considerations=[NO_TASK_EVIDENCE],
    )


def _thinking(style: ThinkingStyle, confidence: float, *evidence: str) -> ThinkingStyleResult:
    return ThinkingStyleResult(primary=style, confidence=confidence, evidence=list(evidence))


def _speed(mean_first_decision: float) -> DecisionSpeed:
    if mean_first_decision < 10:
        return DecisionSpeed.FAST
    if mean_first_decision <= 30:
        return DecisionSpeed.MODERATE
    return DecisionSpeed.DELIBERATE


def _consistency(decisions: Sequence[float], consistency: float) -> tuple[DecisionConsistency, str]:
    if len(decisions) < 2:
        return DecisionConsistency.VARIABLE, TOO_FEW_TASKS_EVIDENCE
    evidence = f"Decision timing consistency {consistency:.0%}"
    if consistency >= 0.7:
        return DecisionConsistency.STEADY, evidence
    if _is_improving(decisions):
        return DecisionConsistency.IMPROVING, evidence
    return DecisionConsistency.VARIABLE, evidence


def _is_improving(decisions: Sequence[float]) -> bool:
    """At least 4 tasks and the second half's mean first-decision time is at
    most 0.8 times the first half's (an odd middle task is in neither)."""
    if len(decisions) < 4:
        return False
    half = len(decisions) // 2
    return _mean(decisions[-half:]) <= 0.8 * _mean(decisions[:half])


def _mean_changes(tasks: Sequence[PerTaskMetrics]) -> float:
    return _mean([t.decision_change_count for t in tasks])


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _round(value: float) -> float:
    return round(value, DIGITS)


# ---------------------------------------------------------------- rule 1.2.0: honest labels
#
# The labels are chosen by the rules above (thresholds unchanged); 1.2.0
# changes what is written around them: how much the profile rests on
# (``evidence_level``), nothing but that with no completed task, and
# sentences that say what was measured, under its own name, with seconds to
# one decimal and proper plurals. docs/metrics.md, "Rule 1.2.0".

LIMITED_BELOW = 3  # 1 or 2 completed tasks: limited evidence; 3 or more: sufficient
TOO_LITTLE_SUMMARY = "Too little was observed to describe this candidate: no task was completed."
ONE_TASK_CONSISTENCY = "One completed task: too few to compare decision times"

# 1.2.0: a thinking style with mostly middle-ground (medium-risk) choices,
# in place of the "across risk levels" template of the balanced orientation.
MIDDLE_GROUND_TEMPLATES: dict[ThinkingStyle, str] = {
    ThinkingStyle.ANALYTICAL: f"{_ANALYTICAL} and mostly choose middle-ground options.",
    ThinkingStyle.INTUITIVE: f"{_INTUITIVE} and mostly choose middle-ground options.",
    ThinkingStyle.EXPLORATORY: f"{_EXPLORATORY} After comparing alternatives they mostly settle on middle-ground options.",
    ThinkingStyle.METHODICAL: f"{_METHODICAL} They mostly choose middle-ground options.",
}
UNTIMED_MIDDLE_GROUND_TEMPLATE = "This candidate mostly chooses middle-ground options."
# 1.2.0 replaces the one seed template that named a state of mind ("confident",
# "comfort with ambiguity") with a description of the choices.
INTUITIVE_RISK_TOLERANT_1_2 = f"{_INTUITIVE} and often choose higher-risk options."


def evidence_level(tasks_completed: int) -> EvidenceLevel:
    """``none`` with 0 completed tasks, ``limited`` with 1-2, ``sufficient`` with 3 or more."""
    if tasks_completed <= 0:
        return EvidenceLevel.NONE
    return EvidenceLevel.LIMITED if tasks_completed < LIMITED_BELOW else EvidenceLevel.SUFFICIENT


def confidence_words(profile: SkillProfile, metrics: ComputedMetrics | None = None) -> str:
    """How much a profile rests on, in words with its basis, for showing in
    place of a confidence figure: ``"limited evidence (2 tasks)"``,
    ``"sufficient evidence (5 tasks)"``, ``"no evidence (0 tasks)"``.

    A 1.2.0 profile carries its ``tasks_completed``; an older one does not,
    so pass its metrics document (the count is read from there; without it
    the level cannot be told: ``"evidence not recorded"``)."""
    count = profile.tasks_completed
    if count is None and metrics is not None:
        count = metrics.global_metrics.tasks_completed
    if count is None:
        return "evidence not recorded"
    level = EvidenceLevel(profile.evidence_level) if profile.evidence_level else evidence_level(count)
    basis = plural(count, "task")
    if level == EvidenceLevel.NONE:
        return f"no evidence ({basis})"
    return f"{level} evidence ({basis})"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``"1 task"``, ``"0 tasks"``, ``"3 tasks"``."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def times(count: int) -> str:
    """``"once"``, ``"twice"``, ``"3 times"``."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def seconds(value: float) -> str:
    """Seconds to one decimal: ``"4.2 s"``."""
    return f"{value:.1f} s"


class _Observed:
    """The figures 1.2.0's sentences name, read from the metrics document."""

    def __init__(self, metrics: ComputedMetrics) -> None:
        tasks = metrics.per_task_metrics
        total_tasks = metrics.global_metrics.total_tasks
        self.count = len(tasks)
        self.hesitation = metrics.global_metrics.hesitation_time_seconds / total_tasks if total_tasks else 0.0
        self.changes = _mean_changes(tasks)
        self.words = _mean([t.reasoning_word_count for t in tasks])
        self.connectors = _mean([t.reasoning_logical_keywords_count for t in tasks])
        self.decisions = [t.first_decision_speed_seconds for t in tasks]
        self.first_decision = _mean(self.decisions)
        self.attention = metrics.aggregated_patterns.attention_stability
        self.focus_losses = sum(t.focus_loss_count for t in tasks)
        self.risk = metrics.aggregated_patterns.risk_preference

    # -- sentences, each naming the figure it prints

    def pause(self) -> str:
        h = self.hesitation
        amount = "Little pause" if h < 10 else "Some pause" if h <= 30 else "Long pauses"
        return f"{amount} between actions (avg {seconds(h)} of hesitation per task)"

    def option_changes(self) -> str:
        c = self.changes
        if c == 0:
            return "Kept the first option selected in every task"
        amount = "Few" if c < 1 else "Some" if c <= 2 else "Frequent"
        return f"{amount} changes of the selected option (avg {c:.1f} per task)"

    def explanations(self) -> str:
        return (
            f"Explanations of avg {plural(round(self.words), 'word')} "
            f"with {self.connectors:.1f} logical connectors each"
        )

    def words_written(self) -> str:
        if self.words == 0:
            return "Wrote no explanation"
        return f"Wrote avg {plural(round(self.words), 'word')} per explanation"

    def connectors_used(self) -> str:
        return f"Used avg {self.connectors:.1f} logical connectors per explanation"

    def first_selection(self) -> str:
        return f"First option selected after avg {seconds(self.first_decision)}"

    def decision_spread(self, label: str) -> list[str]:
        if self.count < 2:
            return [ONE_TASK_CONSISTENCY]
        low, high = min(self.decisions), max(self.decisions)
        if low == high:
            return [f"First selections came after {seconds(low)} in every task"]
        spread = [f"First selections came after {seconds(low)} to {seconds(high)} across tasks"]
        if label == DecisionConsistency.IMPROVING:
            half = self.count // 2
            first, second = _mean(self.decisions[:half]), _mean(self.decisions[-half:])
            spread.append(f"Sooner in the later tasks (avg {seconds(second)}, against {seconds(first)} earlier)")
        return spread

    def risk_breakdown(self) -> str:
        r = self.risk
        return f"Choices by risk level: {r.low_count} low, {r.medium_count} medium, {r.high_count} high"


def _interpret_1_2(
    metrics: ComputedMetrics, generated_at: datetime, accommodations: Accommodations | None
) -> SkillProfile:
    seen = _Observed(metrics)
    level = evidence_level(seen.count)
    base = {
        "attempt_id": metrics.attempt_id,
        "generated_at": generated_at,
        "version": metrics.version,
        "evidence_level": level,
        "tasks_completed": seen.count,
    }
    if level == EvidenceLevel.NONE:
        return SkillProfile(
            **base,
            thinking_style=None,
            decision_pattern=None,
            risk_orientation=None,
            communication_style=None,
            overall_summary=TOO_LITTLE_SUMMARY,
            strengths=[],
            considerations=[],
        )
    reading = _Reading.of(metrics.version, accommodations)
    if reading.timed:
        thinking = thinking_style(metrics)
        thinking = thinking.model_copy(update={"evidence": _thinking_evidence_1_2(thinking, seen)})
        decision = decision_pattern(metrics)
        decision = decision.model_copy(
            update={"evidence": [seen.first_selection(), *seen.decision_spread(decision.consistency)]}
        )
    else:
        thinking = _thinking(ThinkingStyle.METHODICAL, 0.0, TIME_NOT_INTERPRETED, seen.option_changes())
        decision = _untimed_decision_pattern()
    risk = risk_orientation_1_2(seen)
    communication = communication_style(metrics.per_task_metrics)
    communication = communication.model_copy(update={"evidence": [seen.words_written(), seen.connectors_used()]})
    return SkillProfile(
        **base,
        thinking_style=thinking,
        decision_pattern=decision,
        risk_orientation=risk,
        communication_style=communication,
        overall_summary=_summary_1_2(thinking if reading.timed else None, risk, communication, seen),
        strengths=_strengths_1_2(seen, thinking, decision, communication, reading),
        considerations=_considerations_1_2(seen, decision, communication, reading),
    )


def _thinking_evidence_1_2(thinking: ThinkingStyleResult, seen: _Observed) -> list[str]:
    """The figures the thinking style's rule read: hesitation per task, and
    the writing (analytical) or the option changes (the others)."""
    if thinking.primary == ThinkingStyle.ANALYTICAL:
        return [seen.pause(), seen.explanations()]
    return [seen.pause(), seen.option_changes()]


def risk_orientation_1_2(seen: _Observed) -> RiskOrientationResult:
    """Seed 8.2's labels; a ``medium`` pattern is the ``balanced``
    orientation with middle-ground evidence and its share as confidence."""
    r = seen.risk
    total = r.low_count + r.medium_count + r.high_count
    of_total = f"of {plural(total, 'task')}"
    if r.dominant == RiskDominance.LOW:
        label, share, headline = (
            RiskOrientationLabel.RISK_AVERSE,
            r.low_count / total,
            f"Chose a low-risk option in {r.low_count} {of_total}",
        )
    elif r.dominant == RiskDominance.HIGH:
        label, share, headline = (
            RiskOrientationLabel.RISK_TOLERANT,
            r.high_count / total,
            f"Chose a high-risk option in {r.high_count} {of_total}",
        )
    elif r.dominant == RiskDominance.MEDIUM:
        label, share, headline = (
            RiskOrientationLabel.BALANCED,
            r.medium_count / total,
            f"Chose a middle-ground (medium-risk) option in {r.medium_count} {of_total}",
        )
    else:
        label, share, headline = RiskOrientationLabel.BALANCED, 0.6, "No single risk level in most choices"
    return RiskOrientationResult(preference=label, confidence=_round(share), evidence=[headline, seen.risk_breakdown()])


def _summary_1_2(
    thinking: ThinkingStyleResult | None,
    risk: RiskOrientationResult,
    communication: CommunicationStyleResult,
    seen: _Observed,
) -> str:
    """1.0.0's templates, except: mostly middle-ground choices are said as
    such, and the intuitive / risk-tolerant template names no state of mind.
    ``thinking`` is None for an untimed attempt."""
    middle = seen.risk.dominant == RiskDominance.MEDIUM
    orientation = RiskOrientationLabel(risk.preference)
    if thinking is None:
        template = UNTIMED_MIDDLE_GROUND_TEMPLATE if middle else UNTIMED_SUMMARY_TEMPLATES[orientation]
    else:
        style = ThinkingStyle(thinking.primary)
        if middle:
            template = MIDDLE_GROUND_TEMPLATES[style]
        elif (style, orientation) == (ThinkingStyle.INTUITIVE, RiskOrientationLabel.RISK_TOLERANT):
            template = INTUITIVE_RISK_TOLERANT_1_2
        else:
            template = SUMMARY_TEMPLATES[(style, orientation)]
    structure_words = _STRUCTURE_WORDS[LogicalStructure(communication.logical_structure)]
    return f"{template} Their written reasoning is {communication.reasoning_depth} and {structure_words}."


def _strengths_1_2(
    seen: _Observed,
    thinking: ThinkingStyleResult,
    decision: DecisionPatternResult,
    communication: CommunicationStyleResult,
    reading: _Reading,
) -> list[str]:
    """1.0.0's conditions in 1.0.0's order (1.1.0's accommodations rule
    included); each sentence says what was observed."""
    timed, attention = reading.timed, reading.attention
    rules = [
        (
            communication.logical_structure == LogicalStructure.STRUCTURED,
            f"Explains decisions with logical connectors (avg {seen.connectors:.1f} per explanation)",
        ),
        (
            communication.reasoning_depth == ReasoningDepth.DETAILED,
            f"Gives detailed written explanations (avg {plural(round(seen.words), 'word')})",
        ),
        (
            timed and decision.speed == DecisionSpeed.FAST and seen.changes < 1,
            f"Selects an option soon and rarely changes it (first selection after avg {seconds(seen.first_decision)})",
        ),
        (
            timed and thinking.primary == ThinkingStyle.ANALYTICAL,
            "Pauses between actions and explains choices at length",
        ),
        (
            timed and decision.consistency == DecisionConsistency.STEADY,
            "Makes first selections after similar times across tasks",
        ),
        (
            timed and attention and seen.attention >= 0.9,
            "Neither idle nor away for at least 90% of task time",
        ),
    ]
    return [text for holds, text in rules if holds]


def _considerations_1_2(
    seen: _Observed,
    decision: DecisionPatternResult,
    communication: CommunicationStyleResult,
    reading: _Reading,
) -> list[str]:
    """1.0.0's conditions in 1.0.0's order; neutral observations with what was measured."""
    timed, attention = reading.timed, reading.attention
    rules = [
        (seen.changes > 2, f"Changed the selected option often (avg {seen.changes:.1f} changes per task)"),
        (
            communication.reasoning_depth == ReasoningDepth.BRIEF,
            f"Keeps written explanations brief (avg {plural(round(seen.words), 'word')})",
        ),
        (attention and seen.focus_losses > 0, f"Left the assessment window {times(seen.focus_losses)}"),
        (timed and attention and seen.attention < 0.7, "Idle or away for more than 30% of task time"),
        (
            timed and decision.speed == DecisionSpeed.DELIBERATE,
            f"Took more than 30 s before selecting a first option (avg {seconds(seen.first_decision)})",
        ),
    ]
    return [text for holds, text in rules if holds]
