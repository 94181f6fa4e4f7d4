"""Live: watch an attempt in progress, about once a second; mint a live
ticket for integrations (the ingest server's /ws/live socket)."""

from __future__ import annotations

import streamlit as st

from hiremate import attempts, live_tickets
from hiremate.models import TaskAttempt
from hiremate.reports import column_label
from hiremate.settings import get_settings
from hiremate.timeutil import utcnow
from recruiter import live_panel, session, ui

STATE_KEY = "live_state"
TICKET_KEY = "live_ticket"
PICKER_KEY = "live_attempt"

user = session.require_user()
scope = session.current_scope()

st.title("Live")
st.caption("Follow a candidate's assessment as it happens. Signals are observations, not judgements.")

requested = st.query_params.get("attempt")
with session.database_guard():
    choices = live_panel.in_progress_attempts(scope)
    linked: TaskAttempt | None = attempts.get_attempt(scope, requested) if requested else None

if requested and linked is None:
    st.error("Attempt not found in your organisation. It may have been erased, or the link is mistyped.")
    st.page_link("app_pages/live.py", label="Show attempts in progress", icon=":material/sensors:")
    st.stop()

labels = {choice.attempt_id: f"{choice.label} · {choice.candidate_email}" for choice in choices}
if linked is not None and str(linked.id) not in labels:
    # A shared link to an attempt that is not (or no longer) in progress.
    labels = {str(linked.id): f"{linked.candidate_info.name} · {ui.status_label(linked.status)}", **labels}

if not labels:
    st.info(
        "Nobody is taking an assessment right now. When a candidate opens their link and starts, "
        "the assessment appears here. To watch one that has ended, use Watch live on the Assessments page."
    )
    st.page_link("app_pages/assessments.py", label="Issue an assessment", icon=":material/send:")
    st.stop()

if requested in labels:
    st.session_state[PICKER_KEY] = requested
elif st.session_state.get(PICKER_KEY) not in labels:
    st.session_state[PICKER_KEY] = next(iter(labels))


def _follow_picker() -> None:
    st.query_params["attempt"] = st.session_state[PICKER_KEY]


attempt_id = st.selectbox(
    f"Attempt in progress ({len(choices)})",
    options=list(labels),
    format_func=lambda value: labels.get(value, value),
    key=PICKER_KEY,
    on_change=_follow_picker,
    help="Newest issued first. Candidate names are shown as typed.",
)

with session.database_guard():
    attempt = linked if linked is not None and str(linked.id) == attempt_id else attempts.get_attempt(scope, attempt_id)
if attempt is None:
    st.error("Attempt not found in your organisation.")
    st.stop()
ui.audit_view(scope, "live.viewed", attempt.id)
if requested != attempt_id:
    # The address names the attempt watched: shareable, and it stays on
    # screen when it completes and leaves the list of attempts in progress.
    st.query_params["attempt"] = attempt_id

info = attempt.candidate_info
st.markdown(
    f"**{session.escape_markdown(info.name)}** · {session.escape_markdown(info.email)}"
    + (f" · {session.escape_markdown(info.position)}" if info.position else "")
)


def _state_for(current: TaskAttempt) -> live_panel.LiveState:
    state = st.session_state.get(STATE_KEY)
    if state is None or getattr(state, "attempt_id", None) != str(current.id):
        state = live_panel.start_state(current)
    return state


def _render_panel(current: TaskAttempt) -> bool:
    """Reads only the events after the last one seen, then draws the panel;
    True when the attempt has ended."""
    with session.database_guard():
        status = live_panel.attempt_status(scope, current.id)
        if status is None:
            st.error("This attempt is no longer available.")
            return True
        state = _state_for(current)
        fresh = live_panel.events_after(scope, current, state.last_seq)
    state = live_panel.advance(state, current, fresh)
    st.session_state[STATE_KEY] = state
    view = live_panel.panel(state, status.status, now=utcnow(), disconnected_at=status.disconnected_at)

    if view.is_final:
        if view.status == "completed":
            st.success("The candidate completed the assessment.", icon=":material/task_alt:")
        else:
            st.info(f"The attempt is {ui.status_label(view.status).lower()}; no more events will arrive.")
        st.page_link(
            "app_pages/profile.py",
            label="Open the profile",
            icon=":material/person_search:",
            query_params={"attempt": state.attempt_id},
        )

    st.progress(view.progress, text=view.progress_text)
    st.markdown(f"**Now:** {session.escape_markdown(view.current_task)}")
    task_col, focus_col, idle_col = st.columns(3)
    task_col.metric("Time on this task", ui.format_duration(view.time_on_task_seconds))
    if view.disconnected_seconds is not None:
        focus_col.metric(
            "Window",
            "Disconnected",
            help="The candidate's page is closed or has lost its connection. Answers so far are saved; "
            "they can continue with the same link.",
        )
        focus_col.caption(f"Disconnected for {ui.format_duration(view.disconnected_seconds)}")
    elif view.away_seconds is not None:
        focus_col.metric("Window", "Away", help="The page is open, but its window is not in focus.")
        focus_col.caption(f"Away for {ui.format_duration(view.away_seconds)}")
    else:
        focus_col.metric("Window", "In focus" if view.events_seen else "—")
        focus_col.caption(f"Left the window {ui.count_noun(view.focus_losses, 'time')}")
    if view.quiet_seconds is not None:
        idle_col.metric("Activity", "No activity", help="No event for a while.")
        idle_col.caption(f"No event for {ui.format_duration(view.quiet_seconds)}")
    else:
        idle_col.metric("Activity", "Active" if view.events_seen and not view.is_final else "—")
        idle_col.caption(
            f"{ui.count_noun(view.idle_periods, 'idle period')}, {ui.format_duration(view.idle_seconds_total)} in total"
        )

    st.subheader("Event stream", divider="gray")
    if not view.lines:
        st.caption("No events yet. They appear here within a second of being stored.")
    else:
        st.caption(
            f"{ui.count_noun(view.events_seen, 'event')} so far; the latest {len(view.lines)} shown, newest first."
        )
        ui.data_table(
            live_panel.lines_table(view.lines, ui.organization_zone()),
            what="the event stream",
            hide_index=True,
            width="stretch",
            column_config={column_label("candidate_text"): st.column_config.TextColumn(width="large")},
        )
    return view.is_final


# The panel ticks only while the attempt can still change; when it ends,
# a full rerun draws it once more without the timer.
with session.database_guard():
    status_now = live_panel.attempt_status(scope, attempt.id)
final_now = status_now is None or status_now.is_final


@st.fragment(run_every=None if final_now else 1.0)
def live_updates(current: TaskAttempt) -> None:
    # Logged out, deactivated or idle since the page was drawn: back to the gate.
    # The timer's runs are not use, so they do not keep an idle session alive.
    if session.current_user(touch=False) is None:
        st.rerun(scope="app")
    if _render_panel(current) and not final_now:
        st.rerun(scope="app")  # stop the timer


live_updates(attempt)

# ---------------------------------------------------------------- live ticket

with st.expander("Live socket for integrations", icon=":material/key:"):
    st.caption(
        "A ticket lets another tool follow this attempt over the ingest server's live WebSocket. "
        "It is valid for 5 minutes, for this attempt only, for up to 3 connections at once; "
        "the socket closes when it expires or when you log out. Mint a new one when it expires."
    )
    if st.button("Mint a live ticket", key="live_mint_ticket", icon=":material/key:"):
        settings = get_settings()
        issued = utcnow()
        session_id = session.current_session_id()
        if session_id is None:  # the session ended since the page was drawn
            st.rerun(scope="app")
        ticket = live_tickets.mint_ticket(
            settings.secret,
            attempt_id=str(attempt.id),
            user_id=str(user.id),
            organization_id=str(scope.organization_id),
            session_id=str(session_id),
            now=issued,
        )
        claims = live_tickets.verify_ticket(settings.secret, ticket, now=issued)
        with session.database_guard():
            scope.audit("live.ticket_minted", "attempt", attempt.id, expires_at=claims.expires_at)
        st.session_state[TICKET_KEY] = {
            "attempt_id": str(attempt.id),
            "ticket": ticket,
            "url": live_panel.live_socket_url(settings.public_url, str(attempt.id), ticket),
            "expires_at": claims.expires_at,
        }
    minted = st.session_state.get(TICKET_KEY)
    if minted and minted["attempt_id"] == str(attempt.id):
        ui.copy_box(minted["url"], label="WebSocket URL with its ticket")
        expired = minted["expires_at"] <= utcnow()
        when = ui.format_time(minted["expires_at"])
        if expired:
            st.warning(f"This ticket expired at {when}. Mint a new one.")
        else:
            st.caption(f"Expires at {when} (5 minutes after minting).")
