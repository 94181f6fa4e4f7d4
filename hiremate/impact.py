"""The impact report (issue 17): does any step treat groups differently?

For an organisation's completed assessments (optionally one position and a
period), grouped by the candidates' voluntary self-identification
(``hiremate.self_id.groups``: counts per group, never one person's answer):

* **Selection rates** from the recorded decisions (``advance`` = selected),
  by sex, by race/ethnicity and by both (intersectional), with each group's
  **impact ratio** (its rate / the highest group's rate).
* For each label of each profile dimension (thinking style ``analytical``,
  decision speed ``fast``, ...) the share of each group given that label,
  and its ratio.
* For the continuous figures (first decision time, reasoning depth and
  length, hesitation) NYC Local Law 144's **scoring rate**: the share of
  each group above the median of the whole sample, and its ratio.

Per group: count, rate, ratio, a flag below 0.8 (the four-fifths rule of
29 CFR 1607.4(D): a rule of thumb, not a safe harbour) and Fisher's exact
test of the group against the rest of the known groups (SciPy). Groups
under 2% of a table's people are left out of the ratios with the reason
stated, their counts and rates still shown (LL144's rule, 6 RCNY 5-301);
people with an unknown category are counted apart and left out of the
ratios; fewer than 30 people raise a warning. docs/impact-report.md gives
the method, definitions and limits.

Two layers: ``build_report`` is a pure function from a ``pandas.DataFrame``
of rows (one per attempt; see ``COLUMNS``) to an ``ImpactReport``, which
renders as Markdown, CSV or JSON; ``load_rows`` reads those rows from the
store through a ``Scope``, and ``impact_report`` does both for an admin and
writes the audit entry (``impact.reported``, counts only).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
from bson import ObjectId
from fairlearn.metrics import MetricFrame, count, selection_rate
from scipy.stats import fisher_exact

from hiremate import db as dbmod
from hiremate import organizations, reviews, self_id
from hiremate.csvsafe import cell
from hiremate.errors import ReportError
from hiremate.models import AttemptStatus
from hiremate.scope import Scope
from hiremate.skills import plural
from hiremate.timeutil import iso, utcnow

__all__ = [
    "BREAKDOWNS",
    "FIGURES",
    "FLAG_BELOW",
    "LABELS",
    "MIN_PEOPLE",
    "SMALL_GROUP_SHARE",
    "GroupRow",
    "ImpactReport",
    "ReportMeta",
    "Table",
    "build_report",
    "impact_report",
    "load_rows",
    "parse_day",
]

FLAG_BELOW = 0.8  # the four-fifths rule's threshold
SMALL_GROUP_SHARE = 0.02  # LL144: a category under 2% of the data may be left out of the ratios
MIN_PEOPLE = 30  # under this, the report warns that its figures are not reliable
UNKNOWN = self_id.UNKNOWN

# Breakdown -> (its title, the columns that form a group).
BREAKDOWNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sex": ("Sex", ("sex",)),
    "race_ethnicity": ("Race/ethnicity", ("race",)),
    "intersectional": ("Sex × race/ethnicity", ("sex", "race")),
}
# Label column -> (title, (path in the profile document), the labels it can take).
LABELS: dict[str, tuple[str, tuple[str, str], tuple[str, ...]]] = {
    "thinking_style": (
        "Thinking style",
        ("thinking_style", "primary"),
        ("analytical", "intuitive", "exploratory", "methodical"),
    ),
    "decision_speed": ("Decision speed", ("decision_pattern", "speed"), ("fast", "moderate", "deliberate")),
    "decision_consistency": (
        "Decision consistency",
        ("decision_pattern", "consistency"),
        ("steady", "variable", "improving"),
    ),
    "risk_preference": (
        "Risk preference",
        ("risk_orientation", "preference"),
        ("risk_averse", "balanced", "risk_tolerant"),
    ),
    "reasoning_depth_label": (
        "Reasoning depth (label)",
        ("communication_style", "reasoning_depth"),
        ("brief", "moderate", "detailed"),
    ),
    "logical_structure": (
        "Logical structure",
        ("communication_style", "logical_structure"),
        ("informal", "semi_structured", "structured"),
    ),
}
# Figure column -> its title (each from the attempt's computed metrics, see _figures).
FIGURES: dict[str, str] = {
    "first_decision_seconds": "First decision time (mean seconds per task)",
    "reasoning_depth": "Reasoning depth score (mean per task)",
    "reasoning_words": "Reasoning length (mean words per task)",
    "hesitation_seconds": "Hesitation (seconds per task)",
}
COLUMNS = ("attempt_id", "sex", "race", "selected", *LABELS, *FIGURES)

DATA_SOURCE = (
    "HireMate: completed assessments with a computed profile, their latest recorded decision "
    "(profile_reviews) and the candidates' voluntary self-identification (self_identifications)"
)


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class GroupRow:
    """One group in one table. ``rate`` is ``positives / count``; ``ratio``
    is None when the group is left out of the ratios (``excluded`` says why)
    or when no included group has a positive rate."""

    group: str  # its words, e.g. "Female × Asian (not Hispanic or Latino)"
    codes: tuple[str, ...]  # its category codes, e.g. ("female", "asian")
    count: int
    positives: int
    rate: float
    ratio: float | None
    below_threshold: bool
    fisher_p: float | None  # two-sided, this group against the rest of the known groups
    excluded: str | None = None


@dataclass(frozen=True)
class Table:
    """One measure (selection, a label, a scoring rate) by one breakdown."""

    section: str  # "selection" | "label" | "scoring"
    measure: str  # e.g. "selected", "decision_speed=fast", "first_decision_seconds>median"
    title: str  # e.g. "Decision speed: fast"
    breakdown: str  # a key of BREAKDOWNS
    people: int  # everyone this measure counts, unknown category included
    unknown: int  # of them, with an unknown category in this breakdown (left out of the ratios)
    rows: list[GroupRow]
    median: float | None = None  # the whole sample's median, for a scoring rate

    @property
    def highest(self) -> GroupRow | None:
        ranked = [row for row in self.rows if row.excluded is None]
        return max(ranked, key=lambda row: row.rate) if ranked else None


@dataclass(frozen=True)
class ReportMeta:
    """What the report is about, as its summary states it."""

    organization: str
    generated_at: datetime
    position: str | None = None
    period_from: date | None = None
    period_to: date | None = None
    time_zone: str = "UTC"
    data_source: str = DATA_SOURCE


@dataclass(frozen=True)
class ImpactReport:
    meta: ReportMeta
    people: int  # completed assessments with a profile in the period
    decided: int  # of them, with a recorded decision (the selection rates' denominator)
    selected: int
    counts: dict[str, dict[str, int]]  # breakdown -> category code -> people ("unknown" included)
    tables: list[Table]
    warnings: list[str] = field(default_factory=list)

    @property
    def sufficient(self) -> bool:
        return self.people >= MIN_PEOPLE and self.decided >= MIN_PEOPLE

    @property
    def reason(self) -> str | None:
        if self.people < MIN_PEOPLE:
            return f"only {plural(self.people, 'completed assessment')} in the report; at least {MIN_PEOPLE} are needed"
        if self.decided < MIN_PEOPLE:
            return (
                f"only {plural(self.decided, 'assessment')} with a recorded decision; at least {MIN_PEOPLE} are needed"
            )
        return None

    @property
    def flagged(self) -> list[tuple[Table, GroupRow]]:
        return [(table, row) for table in self.tables for row in table.rows if row.below_threshold]

    def section(self, name: str) -> list[Table]:
        return [table for table in self.tables if table.section == name]

    # ------------------------------------------------------------ renderings

    def as_json(self) -> dict[str, Any]:
        meta = asdict(self.meta)
        meta["generated_at"] = iso(self.meta.generated_at)
        meta["period_from"] = self.meta.period_from.isoformat() if self.meta.period_from else None
        meta["period_to"] = self.meta.period_to.isoformat() if self.meta.period_to else None
        return {
            "report": "impact",
            **meta,
            "sufficient": self.sufficient,
            "reason": self.reason,
            "warnings": list(self.warnings),
            "definitions": DEFINITIONS,
            "people": self.people,
            "decided": self.decided,
            "undecided": self.people - self.decided,
            "selected": self.selected,
            "counts": self.counts,
            "tables": [
                {
                    "section": t.section,
                    "measure": t.measure,
                    "title": t.title,
                    "breakdown": t.breakdown,
                    "people": t.people,
                    "unknown": t.unknown,
                    "median": _num(t.median),
                    "rows": [
                        {
                            "group": r.group,
                            "codes": list(r.codes),
                            "count": r.count,
                            "positives": r.positives,
                            "rate": _num(r.rate),
                            "impact_ratio": _num(r.ratio),
                            "below_0_8": r.below_threshold,
                            "fisher_p": _num(r.fisher_p),
                            "excluded": r.excluded,
                        }
                        for r in t.rows
                    ],
                }
                for t in self.tables
            ],
        }

    def to_csv(self) -> str:
        """One row per group and table, after a few ``#``-less summary rows
        (section "summary" and "counts"), every cell spreadsheet-safe."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "section",
                "measure",
                "title",
                "breakdown",
                "group",
                "count",
                "positives",
                "rate",
                "impact_ratio",
                "below_0_8",
                "fisher_p",
                "excluded",
                "unknown_in_table",
                "median",
            ]
        )
        blank = [""] * 9
        for key, value in self._summary_pairs():
            writer.writerow([cell(v) for v in ("summary", key, value, *blank, "", "")])
        for breakdown, categories in self.counts.items():
            for code, people in categories.items():
                words = _words(BREAKDOWNS[breakdown][1], _codes(code))
                writer.writerow([cell(v) for v in ("counts", "people", "", breakdown, words, people, *([""] * 8))])
        for t in self.tables:
            for r in t.rows:
                writer.writerow(
                    [
                        cell(v)
                        for v in (
                            t.section,
                            t.measure,
                            t.title,
                            t.breakdown,
                            r.group,
                            r.count,
                            r.positives,
                            _num(r.rate),
                            _num(r.ratio),
                            r.below_threshold,
                            _num(r.fisher_p),
                            r.excluded,
                            t.unknown,
                            _num(t.median),
                        )
                    ]
                )
        return out.getvalue()

    def to_markdown(self) -> str:
        lines = ["# Impact report", ""]
        lines += [f"* **{key.replace('_', ' ').capitalize()}:** {value}" for key, value in self._summary_pairs()]
        lines.append("")
        if self.warnings:
            lines += ["## Warnings", "", *[f"* {warning}" for warning in self.warnings], ""]
        lines += ["## What the figures mean", "", *[f"* {text}" for text in DEFINITIONS.values()], ""]
        flagged = self.flagged
        lines += ["## Groups below 0.8", ""]
        if flagged:
            lines += [
                f"* {t.title}, {BREAKDOWNS[t.breakdown][0].lower()}: {r.group}: impact ratio "
                f"{_fmt(r.ratio, 2)} ({r.positives} of {r.count}; {_p_phrase(r.fisher_p)})"
                for t, r in flagged
            ]
        else:
            lines.append("* None.")
        lines += ["", "## People per category", ""]
        for breakdown, categories in self.counts.items():
            lines += [f"### {BREAKDOWNS[breakdown][0]}", "", "| Category | People |", "|---|---:|"]
            for code, people in categories.items():
                lines.append(f"| {_md(_words(BREAKDOWNS[breakdown][1], _codes(code)))} | {people} |")
            lines.append("")
        for section, heading, rate_word in (
            ("selection", "Selection rates (decision `advance`)", "Selection rate"),
            ("label", "Profile labels: share of each group given the label", "Share"),
            ("scoring", "Scoring rates: share of each group above the whole sample's median", "Scoring rate"),
        ):
            tables = self.section(section)
            if not tables:
                continue
            lines += [f"## {heading}", ""]
            for breakdown, (title, _) in BREAKDOWNS.items():
                mine = [t for t in tables if t.breakdown == breakdown]
                if not mine:
                    continue
                lines += [
                    f"### By {title.lower()}",
                    "",
                    f"| Measure | Group | People | {rate_word} | Impact ratio | Below 0.8 | Fisher's p | Note |",
                    "|---|---|---:|---:|---:|---|---:|---|",
                ]
                for t in mine:
                    measure = t.title if t.median is None else f"{t.title} (median {_fmt(t.median, 2)})"
                    for r in t.rows:
                        lines.append(
                            f"| {_md(measure)} | {_md(r.group)} | {r.count} | {_pct(r.rate)} | {_fmt(r.ratio, 2)} | "
                            f"{'**yes**' if r.below_threshold else ''} | {_p(r.fisher_p)} | {_md(r.excluded or '')} |"
                        )
                    lines.append(
                        f"| {_md(measure)} | Unknown (not in the ratios) | {t.unknown} |  |  |  |  | "
                        "prefer not to say or no answer |"
                    )
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def _summary_pairs(self) -> list[tuple[str, Any]]:
        m = self.meta
        period = f"{m.period_from.isoformat() if m.period_from else 'the first'} to " + (
            m.period_to.isoformat() if m.period_to else "the latest"
        )
        return [
            ("date_of_report", iso(m.generated_at)),
            ("organisation", m.organization),
            ("data_source", m.data_source),
            ("period", f"{period} completed assessment (days in {m.time_zone}, both ends included)"),
            ("position", m.position or "all positions"),
            ("people", self.people),
            ("with_a_recorded_decision", self.decided),
            ("without_a_decision", f"{self.people - self.decided} (not in the selection rates)"),
            ("selected", self.selected),
            ("unknown_sex", self.counts["sex"].get(UNKNOWN, 0)),
            ("unknown_race_ethnicity", self.counts["race_ethnicity"].get(UNKNOWN, 0)),
            ("sufficient", "yes" if self.sufficient else f"no: {self.reason}"),
        ]


DEFINITIONS: dict[str, str] = {
    "selection_rate": "Selection rate: of the people in a group with a recorded decision, the share whose latest "
    "decision is advance (people without a decision are not counted).",
    "impact_ratio": "Impact ratio: a group's rate divided by the rate of the group with the highest rate, so the "
    "highest group is 1.00.",
    "flag": "Below 0.8: an impact ratio under four-fifths, the common first screen of the Uniform Guidelines "
    "(29 CFR 1607.4(D)); it is a rule of thumb that calls for a closer look, not proof of unfairness, and a ratio "
    "of 0.8 or more is not a safe harbour.",
    "fisher_p": "Fisher's p: the two-sided exact test of the group against the rest of the known groups; a small "
    "value (say under 0.05) means a difference this large is unlikely by chance alone; with few people it is large "
    "even when the difference is real.",
    "label_share": "Label share: of the people in a group whose profile describes that dimension, the share given "
    "the label (a profile with too little evidence leaves a dimension empty and is not counted for it).",
    "scoring_rate": "Scoring rate (NYC Local Law 144): the share of a group whose figure is above the median of the "
    "whole sample (everyone in the report, unknown category included); above the median is neither better nor worse.",
    "unknown": "Unknown: prefer not to say, or no answer; counted and shown, left out of the ratios and tests.",
    "small_groups": "Groups under 2% of a table's people are left out of the ratios (LL144 allows it for "
    "categories that small); their counts and rates are still shown.",
    "scope": "This report supports an independent bias audit; it does not replace one.",
}


# ---------------------------------------------------------------- the pure part


def build_report(rows: pd.DataFrame, meta: ReportMeta, *, small_group_share: float = SMALL_GROUP_SHARE) -> ImpactReport:
    """The impact report of ``rows``: one per attempt, with the columns of
    ``COLUMNS`` (``sex``/``race`` category codes or ``"unknown"``;
    ``selected`` True, False or None when no decision is recorded; labels
    as strings or None; figures as numbers or None/NaN). Missing label or
    figure columns are treated as empty."""
    frame = rows.copy()
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["sex"] = frame["sex"].fillna(UNKNOWN).astype(str)
    frame["race"] = frame["race"].fillna(UNKNOWN).astype(str)
    decided = frame[frame["selected"].notna()].copy()
    decided["selected"] = decided["selected"].astype(bool)

    tables: list[Table] = []
    for breakdown in BREAKDOWNS:
        tables.append(
            _table(
                decided,
                decided["selected"],
                "selection",
                "selected",
                "Selected (advance)",
                breakdown,
                small_group_share,
            )
        )
    for column, (title, _, labels) in LABELS.items():
        described = frame[frame[column].notna()]
        if described.empty:
            continue
        present = [label for label in labels if (described[column] == label).any()]
        present += sorted(set(described[column].astype(str)) - set(labels))  # a label of a later rule
        for label in present:
            positive = described[column].astype(str) == label
            for breakdown in BREAKDOWNS:
                tables.append(
                    _table(
                        described,
                        positive,
                        "label",
                        f"{column}={label}",
                        f"{title}: {label.replace('_', ' ')}",
                        breakdown,
                        small_group_share,
                    )
                )
    for column, title in FIGURES.items():
        values = pd.to_numeric(frame[column], errors="coerce")
        measured = frame[values.notna()]
        if measured.empty:
            continue
        figures = values[values.notna()]
        median = float(figures.median())
        for breakdown in BREAKDOWNS:
            tables.append(
                _table(
                    measured,
                    figures > median,
                    "scoring",
                    f"{column}>median",
                    title,
                    breakdown,
                    small_group_share,
                    median=median,
                )
            )

    counts = {
        "sex": _category_counts(frame["sex"], self_id.SEX),
        "race_ethnicity": _category_counts(frame["race"], self_id.RACE_ETHNICITY),
        "intersectional": _intersection_counts(frame),
    }
    report = ImpactReport(
        meta=meta,
        people=len(frame),
        decided=len(decided),
        selected=int(decided["selected"].sum()),
        counts=counts,
        tables=tables,
    )
    return _with_warnings(report, frame)


def _table(
    people: pd.DataFrame,
    positive: pd.Series,
    section: str,
    measure: str,
    title: str,
    breakdown: str,
    small_group_share: float,
    *,
    median: float | None = None,
) -> Table:
    """Rates, ratios and Fisher's tests of one measure by one breakdown.
    Per-group counts and rates come from Fairlearn's MetricFrame (several
    sensitive features make the intersectional groups)."""
    columns = BREAKDOWNS[breakdown][1]
    known_mask = (people[list(columns)] != UNKNOWN).all(axis=1)
    known = people[known_mask]
    flags = positive[known_mask].astype(int)
    rows: list[GroupRow] = []
    if not known.empty:
        frame = MetricFrame(
            metrics={"count": count, "rate": selection_rate},
            y_true=flags,
            y_pred=flags,
            sensitive_features=known[list(columns)],
        )
        by_group = frame.by_group.dropna(subset=["count"])
        total = len(people)
        measured: list[tuple[tuple[str, ...], int, int, float]] = []
        for index, values in by_group.iterrows():
            codes = tuple(str(part) for part in (index if isinstance(index, tuple) else (index,)))
            n = int(values["count"])
            rate = float(values["rate"])
            measured.append((codes, n, round(rate * n), rate))
        all_positive = sum(p for _, _, p, _ in measured)
        all_count = sum(n for _, n, _, _ in measured)
        excluded = {
            codes: f"fewer than 2% of the {total} people in this table ({n}): left out of the ratios, as LL144 allows"
            for codes, n, _, _ in measured
            if small_group_share > 0 and n < small_group_share * total
        }
        included = [rate for codes, _, _, rate in measured if codes not in excluded]
        highest = max(included, default=0.0)
        for codes, n, p, rate in measured:
            ratio = None if codes in excluded or highest <= 0 else rate / highest
            rest_n, rest_p = all_count - n, all_positive - p
            fisher = None
            if rest_n > 0:
                fisher = float(fisher_exact([[p, n - p], [rest_p, rest_n - rest_p]], alternative="two-sided").pvalue)
            rows.append(
                GroupRow(
                    group=_words(columns, codes),
                    codes=codes,
                    count=n,
                    positives=p,
                    rate=rate,
                    ratio=ratio,
                    below_threshold=ratio is not None and ratio < FLAG_BELOW,
                    fisher_p=fisher,
                    excluded=excluded.get(codes),
                )
            )
        rows.sort(key=lambda row: _order(columns, row.codes))
    return Table(
        section=section,
        measure=measure,
        title=title,
        breakdown=breakdown,
        people=len(people),
        unknown=int((~known_mask).sum()),
        rows=rows,
        median=median,
    )


def _with_warnings(report: ImpactReport, frame: pd.DataFrame) -> ImpactReport:
    warnings: list[str] = []
    if report.people < MIN_PEOPLE:
        warnings.append(
            f"Only {plural(report.people, 'person', 'people')} in this report: with fewer than {MIN_PEOPLE}, "
            "rates and ratios "
            "swing with one person and say little."
        )
    if report.decided < MIN_PEOPLE:
        warnings.append(
            f"Only {plural(report.decided, 'person', 'people')} with a recorded decision: with fewer than "
            f"{MIN_PEOPLE}, the selection rates say little."
        )
    if report.people and ((frame["sex"] == UNKNOWN) & (frame["race"] == UNKNOWN)).all():
        warnings.append("Nobody in this report self-identified, so no group can be compared.")
    excluded = sorted({row.group for table in report.tables for row in table.rows if row.excluded})
    if excluded:
        warnings.append(
            "Left out of some ratios as under 2% of the people: " + "; ".join(excluded) + " (counts still shown)."
        )
    return replace(report, warnings=warnings)


def _category_counts(values: pd.Series, categories: Mapping[str, str]) -> dict[str, int]:
    found = values.value_counts()
    codes = [code for code in categories if code != self_id.PREFER_NOT_TO_SAY]
    codes += sorted(set(found.index) - set(codes) - {UNKNOWN})
    return {code: int(found.get(code, 0)) for code in [*codes, UNKNOWN]}


def _intersection_counts(frame: pd.DataFrame) -> dict[str, int]:
    known = frame[(frame["sex"] != UNKNOWN) & (frame["race"] != UNKNOWN)]
    found = known.groupby(["sex", "race"]).size()
    result = {
        f"{sex}|{race}": int(n)
        for (sex, race), n in sorted(found.items(), key=lambda item: _order(("sex", "race"), item[0]))
    }
    result[UNKNOWN] = len(frame) - len(known)
    return result


def _codes(key: str) -> tuple[str, ...]:
    return tuple(key.split("|"))


def _words(columns: tuple[str, ...], codes: tuple[str, ...]) -> str:
    if codes == (UNKNOWN,):
        return "Unknown (prefer not to say or no answer)"
    names = {"sex": self_id.SEX, "race": self_id.RACE_ETHNICITY}
    return " × ".join(names[column].get(code, code) for column, code in zip(columns, codes, strict=True))


def _order(columns: Iterable[str], codes: Iterable[str]) -> tuple[int, ...]:
    names = {"sex": list(self_id.SEX), "race": list(self_id.RACE_ETHNICITY)}
    return tuple(
        names[column].index(code) if code in names[column] else len(names[column])
        for column, code in zip(columns, codes, strict=True)
    )


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 6)


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def _p_phrase(value: float | None) -> str:
    if value is None:
        return "no other group to test against"
    text = _p(value)
    return f"Fisher's p {text}" if text.startswith("<") else f"Fisher's p = {text}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


# ---------------------------------------------------------------- the store


def parse_day(text: str | None) -> date | None:
    """A ``--from``/``--to`` day, YYYY-MM-DD; ReportError otherwise."""
    if text is None or not str(text).strip():
        return None
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ReportError(f"not a date (YYYY-MM-DD): {text!r}") from None


def load_rows(
    scope: Scope,
    *,
    position: str | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
) -> pd.DataFrame:
    """One row per completed assessment of the scope's organisation with a
    computed profile, completed in the period (whole days in the
    organisation's time zone, both ends included) and for ``position``
    (exact, all when None): its groups, whether it was selected (None: no
    decision recorded), its labels and figures. No names, no emails."""
    zone = organizations.time_zone_of(organizations.get_organization(scope.db, scope.organization_id))
    query: dict[str, Any] = {"attempt_status": AttemptStatus.COMPLETED.value}
    if position:
        query["position"] = position
    completed: dict[str, datetime] = {}
    if period_from:
        completed["$gte"] = datetime.combine(period_from, time(), zone)
    if period_to:
        completed["$lt"] = datetime.combine(period_to + timedelta(days=1), time(), zone)
    if completed:
        query["completed_at"] = completed
    projection = {"attempt_id": 1, **{path[0]: 1 for _, path, _ in LABELS.values()}}
    profiles = list(scope.collection(dbmod.PROFILES).find(scope.where(query), projection))
    ids = [doc["attempt_id"] for doc in profiles]
    groups: dict[ObjectId, tuple[str, str]] = {}
    decisions: dict[ObjectId, reviews.ReviewSummary] = {}
    figures: dict[ObjectId, dict[str, float | None]] = {}
    for first in range(0, len(ids), 1000):
        batch = ids[first : first + 1000]
        groups.update(self_id.groups(scope, batch))
        decisions.update(reviews.summaries(scope, batch))
        cursor = scope.collection(dbmod.METRICS).find(
            {"attempt_id": {"$in": batch}}, {"attempt_id": 1, "global_metrics": 1, "per_task_metrics": 1}
        )
        figures.update({doc["attempt_id"]: _figures(doc) for doc in cursor})
    records = []
    for doc in profiles:
        attempt_id = doc["attempt_id"]
        sex, race = groups.get(attempt_id, (UNKNOWN, UNKNOWN))
        decision = decisions.get(attempt_id)
        selected = (
            None if decision is None or decision.decision is None else decision.decision == reviews.Decision.ADVANCE
        )
        record: dict[str, Any] = {"attempt_id": str(attempt_id), "sex": sex, "race": race, "selected": selected}
        for column, (_, (dimension, key), _) in LABELS.items():
            record[column] = (doc.get(dimension) or {}).get(key)
        record.update(figures.get(attempt_id) or dict.fromkeys(FIGURES))
        records.append(record)
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def _figures(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """The continuous figures of one attempt, as docs/metrics.md names them:
    mean first decision time, reasoning depth score and word count over its
    completed tasks; hesitation per task (hesitation / total tasks)."""
    tasks = metrics.get("per_task_metrics") or []
    totals = metrics.get("global_metrics") or {}

    def mean(key: str) -> float | None:
        values = [task[key] for task in tasks if isinstance(task.get(key), int | float)]
        return sum(values) / len(values) if values else None

    total_tasks = totals.get("total_tasks") or 0
    hesitation = totals.get("hesitation_time_seconds")
    return {
        "first_decision_seconds": mean("first_decision_speed_seconds"),
        "reasoning_depth": mean("reasoning_depth_score"),
        "reasoning_words": mean("reasoning_word_count"),
        "hesitation_seconds": hesitation / total_tasks if total_tasks and hesitation is not None else None,
    }


def impact_report(
    scope: Scope,
    *,
    position: str | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
    organization_name: str | None = None,
) -> ImpactReport:
    """The organisation's impact report, for an admin; audited
    (``impact.reported``: the number of rows, nothing else)."""
    if not scope.is_admin:
        raise ReportError("Only an admin of your organisation can see the impact report.")
    if period_from and period_to and period_from > period_to:
        raise ReportError("the period's start is after its end")
    organization = organizations.get_organization(scope.db, scope.organization_id)
    rows = load_rows(scope, position=position, period_from=period_from, period_to=period_to)
    meta = ReportMeta(
        organization=organization_name or (organization.name if organization else str(scope.organization_id)),
        generated_at=utcnow(),
        position=position or None,
        period_from=period_from,
        period_to=period_to,
        time_zone=organizations.time_zone_of(organization).key,
    )
    report = build_report(rows, meta)
    scope.audit("impact.reported", "organization", scope.organization_id, rows=len(rows))
    return report
