"""The human review of a profile, as the profile page shows it (issue 16):
the recorded decision and every reviewer's latest review, then the signed-in
recruiter's own review form (agree or disagree with each dimension, a reason
to disagree, notes) and, once they have reviewed, the decision form
(advance, hold or reject, with a reason).

``render(scope, attempt, profile)`` is the one public function. What people
typed is always shown as text (escaped markdown), never as HTML or
formatting. The widget keys are fixed (``review_<dimension>``,
``review_<dimension>_reason``, ``review_notes``, ``review_submit``,
``review_decision``, ``review_decision_reason``, ``review_decision_submit``)
so browser tests can find them; they are filled again from the recruiter's
own review whenever another attempt is shown or after a save.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from hiremate import reviews
from hiremate.models import AttemptStatus, TaskAttempt
from hiremate.reviews import Decision, ProfileReview, RecordedDecision, Review
from hiremate.scope import Scope
from recruiter import session, ui
from recruiter.task_forms import humanize

FORM_KEY = "review_form"
NOTES_KEY = "review_notes"
SUBMIT_KEY = "review_submit"
DECISION_FORM_KEY = "review_decision_form"
DECISION_KEY = "review_decision"
DECISION_REASON_KEY = "review_decision_reason"
DECISION_SUBMIT_KEY = "review_decision_submit"
FLASH_KEY = "review_panel_flash"
_ATTEMPT_KEY = "review_panel_attempt"  # the attempt whose review the widgets hold
_SEEN_KEY = "review_panel_seen_decision"  # the decision shown at the last run (a compare-and-set)
_NO_DECISION = "none"

DECISION_COLORS = {Decision.ADVANCE: "green", Decision.HOLD: "orange", Decision.REJECT: "red"}
VERDICT_WORDS = {reviews.AGREE: "Agree", reviews.DISAGREE: "Disagree"}


def verdict_key(dimension: str) -> str:
    return f"review_{dimension}"


def reason_key(dimension: str) -> str:
    return f"review_{dimension}_reason"


def render(scope: Scope, attempt: TaskAttempt, profile: Any) -> None:
    """The review section of ``attempt``'s profile (``profile``: its
    ``SkillProfile``, None when it has none)."""
    st.subheader("Human review", divider="gray", anchor=False)
    st.caption(
        "A person's review and decision sit beside the computed profile and never change it. "
        "Every review and decision is recorded, with who and when, in the audit log."
    )
    if attempt.status != AttemptStatus.COMPLETED.value:
        st.info("Only completed assessments are reviewed: this one ended before the candidate finished.")
        return
    if profile is None:
        st.info("This assessment has no computed profile yet; compute it before reviewing.")
        return
    with session.database_guard():
        state = reviews.get_review(scope, attempt.id)
    ui.show_flash(FLASH_KEY)

    attempt_key = str(attempt.id)
    current_seen = _seen_value(state.decision if state else None)
    same_attempt = st.session_state.get(_ATTEMPT_KEY) == attempt_key
    previous_seen = st.session_state.get(_SEEN_KEY, current_seen) if same_attempt else current_seen
    own = state.review_by(scope.user_id) if state else None
    if not same_attempt:
        _fill(own)
        st.session_state[_ATTEMPT_KEY] = attempt_key
    st.session_state[_SEEN_KEY] = current_seen

    _decision_box(state)
    _reviews_box(state)
    dimensions = [name for name in reviews.DIMENSIONS if getattr(profile, name, None) is not None]
    _review_form(scope, attempt, profile, dimensions, own)
    if own is None:
        st.caption("Mark the profile reviewed to record a decision.")
    else:
        _decision_form(scope, attempt, previous_seen)


# ---------------------------------------------------------------- what was recorded


def _decision_box(state: ProfileReview | None) -> None:
    decision = state.decision if state else None
    with st.container(border=True, key="review_current_decision"):
        if decision is None:
            st.markdown("**Decision:** none recorded yet.")
            return
        st.markdown(
            f"**Decision:** {_decision_badge(decision.value)} by {session.escape_markdown(decision.decided_by_name)}, "
            f"{ui.format_time(decision.decided_at)}"
        )
        st.markdown(f"Reason: {session.escape_markdown(decision.reason)}")
        earlier = state.decisions[:-1] if state else []
        if earlier:
            with st.expander(f"Earlier decisions ({len(earlier)})"):
                for item in reversed(earlier):
                    st.markdown(
                        f"{_decision_badge(item.value)} by {session.escape_markdown(item.decided_by_name)}, "
                        f"{ui.format_time(item.decided_at)}: {session.escape_markdown(item.reason)}"
                    )


def _reviews_box(state: ProfileReview | None) -> None:
    latest = state.latest_reviews() if state else []
    if not latest:
        st.markdown(":orange-badge[Awaiting review] Nobody has reviewed this profile yet.")
        return
    st.markdown(f":green-badge[Reviewed] by {ui.count_noun(len(latest), 'recruiter')}")
    for review in latest:
        with st.container(border=True):
            _show_review(review)


def _show_review(review: Review) -> None:
    st.markdown(f"**{session.escape_markdown(review.reviewer_name)}** reviewed {ui.format_time(review.reviewed_at)}")
    lines = []
    for name, title in reviews.DIMENSIONS.items():
        item = review.dimensions.get(name)
        if item is None:
            continue
        line = f"- {title}: **{VERDICT_WORDS[item.verdict].lower()}**"
        if item.reason:
            line += f" ({session.escape_markdown(item.reason)})"
        lines.append(line)
    if lines:
        st.markdown("\n".join(lines))
    if review.notes:
        st.markdown(f"Notes: {session.escape_markdown(review.notes)}")


def _decision_badge(value: Decision | str) -> str:
    decision = Decision(value)
    return f":{DECISION_COLORS[decision]}-badge[{humanize(decision.value)}]"


# ---------------------------------------------------------------- forms


def _review_form(scope: Scope, attempt: TaskAttempt, profile: Any, dimensions: list[str], own: Review | None) -> None:
    with st.form(FORM_KEY):
        st.markdown("**Your review**" if own is None else "**Your review** (saving replaces your earlier one)")
        for name in dimensions:
            label = _dimension_label(profile, name)
            st.radio(
                f"{reviews.DIMENSIONS[name]}: {label}" if label else reviews.DIMENSIONS[name],
                list(VERDICT_WORDS),
                format_func=VERDICT_WORDS.__getitem__,
                index=None,
                horizontal=True,
                key=verdict_key(name),
            )
            st.text_input(
                "Reason (required to disagree)",
                key=reason_key(name),
                max_chars=reviews.MAX_REASON,
            )
        st.text_area("Notes", key=NOTES_KEY, max_chars=reviews.MAX_NOTES, placeholder="What to ask in the interview")
        submitted = st.form_submit_button(
            "Mark reviewed" if own is None else "Update my review",
            key=SUBMIT_KEY,
            type="primary",
            icon=":material/rate_review:",
        )
    if not submitted:
        return
    verdicts = {
        name: (
            (st.session_state.get(verdict_key(name)), st.session_state.get(reason_key(name)) or "")
            if st.session_state.get(verdict_key(name))
            else None
        )
        for name in dimensions
    }
    with ui.refusals():
        reviews.record_review(scope, attempt.id, verdicts, st.session_state.get(NOTES_KEY) or "")
        _saved("Your review is recorded.")


def _decision_form(scope: Scope, attempt: TaskAttempt, seen: str) -> None:
    with st.form(DECISION_FORM_KEY):
        st.markdown("**Record a decision**")
        st.radio(
            "Decision",
            [member.value for member in Decision],
            format_func=humanize,
            index=None,
            horizontal=True,
            key=DECISION_KEY,
        )
        st.text_area("Reason for the decision (required)", key=DECISION_REASON_KEY, max_chars=reviews.MAX_REASON)
        submitted = st.form_submit_button("Record decision", key=DECISION_SUBMIT_KEY, icon=":material/gavel:")
    if not submitted:
        return
    with ui.refusals():
        decision = st.session_state.get(DECISION_KEY)
        if not decision:
            raise reviews.ReviewError("choose a decision: advance, hold or reject")
        recorded = reviews.record_decision(
            scope,
            attempt.id,
            decision,
            st.session_state.get(DECISION_REASON_KEY) or "",
            seen_at=_seen_time(seen),
        )
        assert recorded.decision is not None
        _saved(f"Decision recorded: {humanize(recorded.decision.value)}.")


def _saved(message: str) -> None:
    """After a write: lists show it at once, the widgets are filled again from what is stored."""
    ui.invalidate_reads()
    st.session_state.pop(_ATTEMPT_KEY, None)
    ui.flash(FLASH_KEY, message)
    st.rerun()


def _fill(own: Review | None) -> None:
    """The widgets hold the recruiter's own latest review (empty without one); the decision form starts empty."""
    for name in reviews.DIMENSIONS:
        item = own.dimensions.get(name) if own else None
        st.session_state[verdict_key(name)] = item.verdict if item else None
        st.session_state[reason_key(name)] = item.reason if item else ""
    st.session_state[NOTES_KEY] = own.notes if own else ""
    st.session_state[DECISION_KEY] = None
    st.session_state[DECISION_REASON_KEY] = ""


def _dimension_label(profile: Any, name: str) -> str:
    """The profile's label of a dimension, in words ("Analytical", "Fast · steady")."""
    value = getattr(profile, name, None)
    parts = {
        "thinking_style": ("primary",),
        "decision_pattern": ("speed", "consistency"),
        "risk_orientation": ("preference",),
        "communication_style": ("reasoning_depth", "logical_structure"),
    }[name]
    words = [humanize(getattr(value, part, None)) for part in parts]
    return " · ".join(word for word in words if word)


def _seen_value(decision: RecordedDecision | None) -> str:
    return _NO_DECISION if decision is None else decision.decided_at.isoformat()


def _seen_time(seen: str) -> datetime | None:
    return None if seen == _NO_DECISION else datetime.fromisoformat(seen)
