"""The PDF report of a profile (hiremate/reports/pdf.py), read back as text
with pypdf: what a hiring manager gets, scoped and audited like the CSVs."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from hiremate import db as dbmod
from hiremate import reports, reviews
from hiremate.errors import ReportError
from hiremate.models import AttemptStatus
from hiremate.reports import pdf as pdf_module
from tests.support.page_helpers import make_org, seed_completed, seed_session

AGREE_ALL = {name: ("agree", "") for name in reviews.DIMENSIONS}


# Each page's last line: "<name> · HireMate profile report · page N of M".
RUNNING_FOOTER = re.compile(r"\n[^\n]*· HireMate profile report · page \d+ of \d+\s*$")


def text_of(data: bytes) -> str:
    """The PDF's text, whitespace folded (lines wrap wherever the layout wraps
    them), without each page's running footer: a paragraph that runs on to
    the next page reads on as one (with the footer in between, a reasoning
    that crossed a page, one seed in six, failed to match)."""
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    pages = [RUNNING_FOOTER.sub("", page.extract_text()) for page in reader.pages]
    return re.sub(r"\s+", " ", " ".join(pages))


def folded(value: str) -> str:
    return re.sub(r"\s+", " ", value).strip()


def test_the_report_has_everything_the_profile_page_shows(db):
    org = make_org(db)
    attempt = seed_completed(org, "Zoë Ñúñez", position="Data Analyst (EMEA)")
    reviews.record_review(org.scope, attempt.id, AGREE_ALL, notes="Clear reasoning")
    reviews.record_decision(org.scope, attempt.id, "advance", "Strong written reasoning", seen_at=None)
    bundle = reports.profile_bundle(org.scope, attempt.id)

    text = text_of(reports.profile_pdf(org.scope, attempt.id))

    assert "Zoë Ñúñez" in text
    assert "Data Analyst (EMEA)" in text
    for card in reports.answer_cards(bundle.attempt, bundle.events):
        assert folded(card.title) in text
        chosen = [option for option in card.options if option.chosen]
        for option in chosen:
            assert folded(f"{option.letter}. {option.text} (chosen)") in text
        if card.reasoning:
            assert folded(card.reasoning) in text
    assert folded(bundle.profile.overall_summary) in text
    views = reports.dimensions(bundle.profile)
    assert len(views) == 4
    for view in views:
        assert folded(f"{view.title}: {view.label}") in text
        for sentence in view.evidence:
            assert folded(sentence) in text
    assert "Review: Reviewed" in text and "Clear reasoning" in text
    assert "Decision: Advance by Rita of Acme" in text and "Strong written reasoning" in text
    assert f"profile rules version {bundle.profile.version}" in text
    assert f"metrics version {bundle.metrics.version}" in text
    assert folded(reports.NO_SCORE_STATEMENT) in text


def test_awaiting_review_and_no_decision_are_said(db):
    org = make_org(db)
    attempt = seed_completed(org)
    text = text_of(reports.profile_pdf(org.scope, attempt.id))
    assert "Review: Awaiting review" in text
    assert "Decision: none recorded yet." in text


def test_characters_the_font_cannot_draw_are_replaced_and_said(db):
    org = make_org(db)
    attempt = seed_completed(org, "李雷 Li Lei")
    text = text_of(reports.profile_pdf(org.scope, attempt.id))
    assert "Li Lei" in text and "李" not in text
    assert "\ufffd\ufffd Li Lei" in text
    assert "cannot draw" in text


def test_norms_are_in_the_report_only_when_shown(db):
    org = make_org(db)
    attempt = seed_completed(org)
    assert "Norms appear once" not in text_of(reports.profile_pdf(org.scope, attempt.id))
    shown = text_of(reports.profile_pdf(org.scope, attempt.id, show_norms=True))
    assert "Norms appear once at least" in shown  # one candidate: too few others for norms


def test_an_attempt_without_a_profile_still_reports_what_there_is(db):
    org = make_org(db)
    attempt, _ = seed_session(org, status=AttemptStatus.LOCKED, name="Lou Locked")
    text = text_of(reports.profile_pdf(org.scope, attempt.id))
    assert "Lou Locked" in text and "no computed profile yet" in text
    assert folded(reports.NO_SCORE_STATEMENT) in text


def test_another_organisations_attempt_is_refused_and_each_report_audited(db):
    mine, theirs = make_org(db, "Acme"), make_org(db, "Globex")
    foreign = seed_completed(theirs, "Secret Candidate")
    with pytest.raises(ReportError):
        reports.profile_pdf(mine.scope, foreign.id)
    with pytest.raises(ReportError):
        reports.profile_pdf(mine.scope, "not-an-id")
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "export"}) == 0
    own = seed_completed(mine)
    reports.profile_pdf(mine.scope, own.id, show_norms=True)
    (entry,) = db[dbmod.AUDIT_LOG].find({"action": "export"})
    assert entry["target_id"] == str(own.id) and entry["actor_id"] == mine.scope.user_id
    assert entry["details"]["kind"] == "profile_pdf" and entry["details"]["norms"] is True
    assert entry["details"]["pages"] >= 1


def test_the_no_score_statement_is_never_split_by_a_page_break():
    """Seen once in CI: a statement that began near a page's end came out cut by the footer."""
    report = pdf_module._Report("footer")
    report.add_page()
    report.set_y(report.h - report.b_margin - 6)  # room for one line, not three
    pdf_module._no_score(report)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(bytes(report.output()))).pages]
    assert len(pages) == 2 and reports.NO_SCORE_STATEMENT in " ".join(pages[-1].split())
