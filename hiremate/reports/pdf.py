"""A profile as a PDF to hand a hiring manager (issue 18): the candidate and
position, the answers task by task, the summary with the no-score statement,
the dimensions with their evidence, the norms where the recruiter shows them,
the people's review and decision, and the rule versions.

Everything said here comes from the builders the profile page uses
(``profile_bundle``, ``answer_cards``, ``dimensions``, ``skills``,
``norms``, ``reviews``): this module lays the words out, it does not
describe a profile in its own way. Built with fpdf2 (pure Python) and the
DejaVu Sans fonts kept beside it (``fonts/README.md``), so it needs no
browser and no system fonts. A character DejaVu cannot draw (Chinese,
Japanese, Korean) is replaced by U+FFFD and the report says so.

Like the CSV exports, a report is scoped to the organisation and audited
(``export``, kind ``profile_pdf``).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bson import ObjectId
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from hiremate import norms, organizations, reviews, skills
from hiremate.errors import ReportError
from hiremate.models import AttemptStatus
from hiremate.reports.answers import AnswerCard, answer_cards, seconds_text
from hiremate.reports.columns import humanize
from hiremate.reports.exports import _audit_export
from hiremate.reports.profile import NO_SCORE_STATEMENT, ProfileBundle, dimensions, profile_bundle
from hiremate.scope import Scope
from hiremate.timeutil import local_time, utcnow

__all__ = ["FONT_DIR", "REPLACEMENT", "profile_pdf"]

FONT_DIR = Path(__file__).with_name("fonts")
_FONT = "DejaVu"
_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
REPLACEMENT = "\ufffd"  # drawn for a character the font has no glyph for
_LINE = 5.0  # mm per line of body text


@cache
def _drawable() -> frozenset[int]:
    """The code points both fonts can draw (read once per process)."""
    sets = [set(TTFont(FONT_DIR / name, lazy=True).getBestCmap()) for name in _FILES.values()]
    return frozenset(set.intersection(*sets))


class _Report(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(format="A4", unit="mm")
        self._footer_text = footer_text
        self.replaced = False  # whether any character was replaced
        for style, name in _FILES.items():
            self.add_font(_FONT, style, str(FONT_DIR / name))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=16)
        self.set_font(_FONT, size=10)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, size=8)
        self.set_text_color(90)
        self.cell(0, 5, self.clean(f"{self._footer_text} · page {self.page_no()} of {{nb}}"), align="C")
        self.set_text_color(0)

    def clean(self, text: str) -> str:
        """``text`` as the fonts can draw it: line breaks normalised, control
        characters dropped, undrawable characters replaced (and noted)."""
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
        drawable = _drawable()
        out = []
        for char in text:
            if char == "\n" or ord(char) in drawable:
                out.append(char)
            elif ord(char) < 32 or 0x7F <= ord(char) < 0xA0:
                continue
            else:
                out.append(REPLACEMENT)
                self.replaced = True
        return "".join(out)

    # ------------------------------------------------------------ blocks

    def para(self, text: str, *, size: float = 10, bold: bool = False, grey: bool = False, indent: float = 0) -> None:
        self.set_font(_FONT, "B" if bold else "", size)
        if grey:
            self.set_text_color(85)
        self.set_x(self.l_margin + indent)
        self.multi_cell(0, size * 0.5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.set_font(_FONT, "", 10)

    def heading(self, text: str, *, size: float = 13) -> None:
        if self.get_y() > self.h - 45:  # keep a heading with what follows it
            self.add_page()
        self.ln(3)
        self.para(text, size=size, bold=True)
        self.set_draw_color(180)
        self.line(self.l_margin, self.get_y() + 0.5, self.w - self.r_margin, self.get_y() + 0.5)
        self.ln(2)

    def bullets(self, items: list[str], empty: str, *, indent: float = 0) -> None:
        if not items:
            self.para(empty, grey=True, indent=indent)
        for item in items:
            self.para(f"•  {item}", indent=indent + 2)


def profile_pdf(scope: Scope, attempt_id: str | ObjectId, *, show_norms: bool = False) -> bytes:
    """The profile report of one of this organisation's attempts, as PDF
    bytes; ``show_norms`` adds the per-task norms where the page shows them
    (20 or more others). Raises ReportError when the attempt is not one of
    this organisation's."""
    bundle = profile_bundle(scope, attempt_id)
    if bundle is None:
        raise ReportError(f"no attempt {attempt_id} in your organisation")
    organization = organizations.get_organization(scope.db, scope.organization_id)
    zone = organizations.time_zone_of(organization)
    review = reviews.get_review(scope, bundle.attempt.id)
    task_norms: dict[ObjectId, norms.TaskNorms] = {}
    if show_norms and bundle.metrics is not None:
        task_norms = {n.task_id: n for n in norms.norms_for(scope.db, scope.organization_id, bundle.metrics)}
    name = bundle.attempt.candidate_info.name
    pdf = _Report(f"{name} · HireMate profile report")
    pdf.set_title(pdf.clean(f"Profile of {name}"))
    pdf.set_creator("HireMate")
    pdf.add_page()
    _header(pdf, bundle, zone, organization.settings.display_name or organization.name if organization else "")
    _answers(pdf, answer_cards(bundle.attempt, bundle.events), task_norms, show_norms)
    _profile(pdf, bundle)
    _review(pdf, bundle, review, zone)
    if pdf.replaced:
        pdf.ln(4)
        pdf.para(
            f"Characters this report's font cannot draw (for example Chinese, Japanese or Korean) are shown as "
            f"{REPLACEMENT}. The profile page shows them as typed.",
            size=8,
            grey=True,
        )
    data = bytes(pdf.output())
    _audit_export(scope, "profile_pdf", None, target_id=bundle.attempt.id, pages=pdf.pages_count, norms=show_norms)
    return data


def _header(pdf: _Report, bundle: ProfileBundle, zone: ZoneInfo, organization: str) -> None:
    attempt = bundle.attempt
    info = attempt.candidate_info
    pdf.para("Candidate profile", size=9, grey=True)
    pdf.para(info.name, size=18, bold=True)
    pdf.ln(1)
    pdf.para(f"Position: {info.position or 'not given'}", size=11)
    pdf.para(f"Email: {info.email}")
    status = AttemptStatus(attempt.status)
    when = _when(attempt.completed_at or attempt.started_at or attempt.created_at, zone)
    verb = "Completed" if attempt.completed_at else "Started" if attempt.started_at else "Issued"
    pdf.para(f"Status: {humanize(status)} · {verb} {when}")
    if attempt.consent:
        pdf.para(f"Notice {attempt.consent.notice_version} acknowledged {_when(attempt.consent.at, zone)}")
    versions = []
    if bundle.profile is not None:
        versions.append(f"profile rules version {bundle.profile.version}")
    if bundle.metrics is not None:
        versions.append(f"metrics version {bundle.metrics.version}")
    if versions:
        pdf.para("Rule version: " + ", ".join(versions))
    by = f" for {organization}" if organization else ""
    pdf.para(f"Report made {_when(utcnow(), zone)}{by}. Times in {zone.key}.", size=8, grey=True)


def _when(value: datetime | None, zone: ZoneInfo) -> str:
    return local_time(value, zone, abbreviation=True) or "—"


def _answers(pdf: _Report, cards: list[AnswerCard], task_norms: dict[ObjectId, norms.TaskNorms], asked: bool) -> None:
    pdf.heading("Answers")
    if not cards:
        pdf.para("This assessment has no tasks.", grey=True)
    for card in cards:
        pdf.ln(1)
        pdf.para(f"{card.number}. {card.title}", size=11, bold=True)
        if card.description:
            pdf.para(card.description, size=9, grey=True)
        if card.scenario:
            pdf.para(card.scenario)
        pdf.ln(1)
        for option in card.options:
            details = f"{humanize(option.risk_level).lower()} risk"
            if option.tags:
                details += " · " + ", ".join(humanize(tag).lower() for tag in option.tags)
            if option.chosen:
                pdf.para(f"✓ {option.letter}. {option.text} (chosen) · {details}", bold=True, indent=2)
            else:
                pdf.para(f"   {option.letter}. {option.text} · {details}", indent=2)
        if card.state == "not_reached":
            pdf.para("Not reached: the assessment ended before this task.", grey=True)
            continue
        path = ", ".join(card.path) or "No option was chosen"
        on_task = (
            f" Time on the task: {seconds_text(card.seconds_on_task)}." if card.seconds_on_task is not None else ""
        )
        pdf.ln(1)
        pdf.para(f"{path[:1].upper()}{path[1:]}.{on_task}")
        if card.state == "started":
            pdf.para("Started, not completed.", grey=True)
        pdf.para("Reasoning", bold=True)
        pdf.para(card.reasoning or "No reasoning was written.", grey=not card.reasoning, indent=2)
        found = task_norms.get(card.task_id)
        if asked and found is not None:
            if found.shown:
                pdf.para("Among others on this task", bold=True)
                pdf.bullets([line.sentence()[:1].upper() + line.sentence()[1:] for line in found.lines], "")
            else:
                pdf.para(
                    f"Norms appear once at least {norms.MIN_GROUP} other candidates have completed this task "
                    f"({found.group} so far).",
                    size=9,
                    grey=True,
                )


def _no_score(pdf: _Report) -> None:
    """The no-score statement, never split by a page break (a reader must get it whole)."""
    with pdf.unbreakable() as doc:  # fpdf2 replays the recorded calls on a new page if they would break
        doc.para(NO_SCORE_STATEMENT, size=9, grey=True)


def _profile(pdf: _Report, bundle: ProfileBundle) -> None:
    profile, metrics = bundle.profile, bundle.metrics
    pdf.heading("Summary")
    if profile is None or metrics is None:
        pdf.para("This assessment has no computed profile yet.", grey=True)
        _no_score(pdf)
        return
    if AttemptStatus(bundle.attempt.status) != AttemptStatus.COMPLETED:
        pdf.para(
            f"This attempt was {humanize(bundle.attempt.status).lower()} before the end: the profile covers the "
            f"{metrics.global_metrics.tasks_completed} of {metrics.global_metrics.total_tasks} tasks completed.",
            grey=True,
        )
    pdf.para(profile.overall_summary)
    pdf.ln(1)
    _no_score(pdf)
    basis = skills.confidence_words(profile, metrics)
    pdf.heading("Dimensions")
    views = dimensions(profile)
    if not views:
        pdf.para(f"Based on {basis}: no dimension is described.", grey=True)
    for view in views:
        pdf.ln(1)
        pdf.para(f"{view.title}: {view.label}", size=11, bold=True)
        pdf.para(f"Based on {basis}", size=9, grey=True)
        pdf.bullets(view.evidence, "No evidence recorded.")
    pdf.heading("Strengths", size=11)
    pdf.bullets(profile.strengths, "No particular strengths were derived from this session.")
    pdf.heading("Considerations", size=11)
    pdf.para("Neutral observations to explore in an interview.", size=9, grey=True)
    pdf.bullets(profile.considerations, "Nothing to note.")


def _review(pdf: _Report, bundle: ProfileBundle, review: reviews.ProfileReview | None, zone: ZoneInfo) -> None:
    pdf.heading("Human review")
    if bundle.attempt.status != AttemptStatus.COMPLETED.value or bundle.profile is None:
        pdf.para("Only completed assessments with a computed profile are reviewed.", grey=True)
        return
    latest = review.latest_reviews() if review else []
    state = reviews.ReviewState.REVIEWED if latest else reviews.ReviewState.AWAITING
    pdf.para(f"Review: {humanize(state)}", bold=True)
    titles = {view.key: view.title for view in dimensions(bundle.profile)}
    for item in latest:
        pdf.para(f"Reviewed by {item.reviewer_name}, {_when(item.reviewed_at, zone)}", indent=2)
        for key, verdict in item.dimensions.items():
            reason = f": {verdict.reason}" if verdict.reason else ""
            pdf.para(f"{titles.get(key, humanize(key))}: {humanize(verdict.verdict)}{reason}", indent=6)
        if item.notes:
            pdf.para(f"Notes: {item.notes}", indent=6)
    decision = review.decision if review else None
    pdf.ln(1)
    if decision is None:
        pdf.para("Decision: none recorded yet.", bold=True)
        return
    pdf.para(
        f"Decision: {humanize(decision.value)} by {decision.decided_by_name}, {_when(decision.decided_at, zone)}",
        bold=True,
    )
    pdf.para(f"Reason: {decision.reason}", indent=2)
