"""Dashboard: the organisation at a glance (tasks, assessments by status,
completions this week, median completion time), what happened lately, and
links to the other pages. The numbers are counted by hiremate.dashboard."""

from __future__ import annotations

import streamlit as st

from hiremate import attempts, auth, dashboard, reviews
from hiremate.dashboard import ActivityItem, DashboardStats
from hiremate.models import AttemptStatus, Role
from hiremate.scope import Scope
from hiremate.timeutil import utcnow
from recruiter import session, ui

ACTIVITY_LIMIT = 20
AWAITING_LIMIT = 10
ACTIVITY_ICONS = {
    "issued": ":material/send:",
    "reissued": ":material/link:",
    "locked": ":material/lock:",
    "started": ":material/play_circle:",
    "completed": ":material/check_circle:",
}
QUICK_LINKS = [
    ("app_pages/tasks.py", "Author and preview tasks", ":material/checklist:"),
    ("app_pages/assessments.py", "Issue an assessment", ":material/send:"),
    ("app_pages/live.py", "Watch a live session", ":material/sensors:"),
    ("app_pages/candidates.py", "Browse candidates", ":material/groups:"),
    ("app_pages/compare.py", "Compare candidates", ":material/compare_arrows:"),
    ("app_pages/exports.py", "Export CSV", ":material/download:"),
]


@st.cache_data(ttl=10, show_spinner=False)
def _stats(org: str, _scope: Scope) -> DashboardStats:
    return dashboard.dashboard_stats(_scope)


@st.cache_data(ttl=10, show_spinner=False)
def _activity(org: str, _scope: Scope) -> list[ActivityItem]:
    return dashboard.recent_activity(_scope, limit=ACTIVITY_LIMIT)


def _headline(stats: DashboardStats) -> None:
    by_status = stats.attempts_by_status
    cols = st.columns(5)
    cols[0].metric("Active tasks", stats.active_tasks, border=True)
    cols[1].metric("Assessments issued", stats.total_attempts, border=True)
    cols[2].metric("In progress now", by_status.get(AttemptStatus.IN_PROGRESS.value, 0), border=True)
    cols[3].metric(f"Completed, last {dashboard.RECENT_DAYS} days", stats.completed_last_7_days, border=True)
    cols[4].metric(
        "Median duration",
        ui.format_duration(stats.median_completion_seconds, parts=1),
        help=(
            f"Median time from start to finish: {ui.format_duration(stats.median_completion_seconds)}, "
            f"over {stats.median_sample_size} completed assessments."
            if stats.median_sample_size
            else "No completed assessments yet."
        ),
        border=True,
    )
    st.markdown("**Assessments by status**")
    cols = st.columns(len(by_status))
    for col, (status, count) in zip(cols, by_status.items(), strict=True):
        with col:
            ui.status_badge(status)
            # A metric, not a heading: a screen reader's list of headings said "0, 0, 12, 0, 0".
            st.metric(ui.status_label(status), count, label_visibility="collapsed")


def _feed(items: list[ActivityItem]) -> None:
    st.subheader("Recent activity")
    if not items:
        st.caption("Nothing yet: issued, started, completed and locked assessments appear here.")
        return
    now = utcnow()
    with st.container(border=True):
        for item in items:
            icon = ACTIVITY_ICONS.get(item.kind, ":material/info:")
            when = f"{ui.format_ago(item.at, now)} · {ui.format_time(item.at)}"
            st.markdown(f"{icon} {session.escape_markdown(item.text)} :gray[{session.escape_markdown(when)}]")


def _requests(requests: list[attempts.OpenRequest]) -> None:
    """Candidates who asked for an accommodation or an alternative (no details: those are confidential)."""
    if not requests:
        return
    now = utcnow()
    with st.container(border=True):
        st.markdown(
            f"**:material/accessibility_new: {ui.count_noun(len(requests), 'accommodation request')} to answer**"
        )
        for request in requests:
            who = session.escape_markdown(" · ".join(p for p in (request.candidate_name, request.position) if p))
            st.markdown(f"{who} :gray[asked {ui.format_ago(request.requested_at, now)}]")
            st.page_link(
                "app_pages/assessments.py",
                label="Open the assessment",
                icon=":material/open_in_new:",
                query_params={"attempt": str(request.attempt_id)},
            )
        st.caption("The details are shown to admins and to the recruiter who issued the assessment.")


@st.cache_data(ttl=10, show_spinner=False)
def _awaiting(org: str, _scope: Scope) -> tuple[list[reviews.AwaitingReview], bool]:
    return reviews.awaiting_review(_scope, limit=AWAITING_LIMIT)


def _awaiting_review(items: list[reviews.AwaitingReview], more: bool) -> None:
    """Completed profiles nobody has reviewed yet, newest completion first, each a link to its profile."""
    st.subheader("Awaiting review")
    if not items:
        st.caption("Every completed profile has been reviewed by a person.")
        return
    count = ui.count_noun(len(items), "profile")
    heading = f"The {count} completed most recently, awaiting review" if more else f"{count} awaiting review"
    with st.container(border=True, key="dashboard_awaiting_review"):
        st.markdown(f"**:material/rate_review: {heading}**")
        for item in items:
            who = " · ".join(part for part in (item.candidate_name, item.position) if part)
            st.page_link(
                "app_pages/profile.py",
                label=f"{who} · completed {ui.format_time(item.completed_at)}",
                icon=":material/person:",
                query_params={"attempt": str(item.attempt_id)},
            )
        if more:
            st.caption("More are waiting: filter the Candidates page by review state.")


def _links(user_role: str) -> None:
    st.subheader("Go to")
    for path, label, icon in QUICK_LINKS:
        st.page_link(path, label=label, icon=icon)
    if user_role == Role.ADMIN:
        st.page_link("app_pages/team.py", label="Manage the team", icon=":material/admin_panel_settings:")


# ---------------------------------------------------------------- the page


user = session.require_user()
scope = session.current_scope()
org = str(scope.organization_id)
with session.database_guard():
    stats = _stats(org, scope)
    activity = _activity(org, scope)
    organization = auth.get_organization(scope.db, scope.organization_id)
    requests = attempts.open_accommodation_requests(scope)
    awaiting, more_awaiting = _awaiting(org, scope)

st.title("Dashboard")
if organization:
    st.caption(session.escape_markdown(organization.name))

if stats.active_tasks == 0 and stats.total_attempts == 0:
    with st.container(border=True):
        st.markdown("### Welcome to HireMate")
        st.markdown(
            "Nothing to count yet. Three steps get you going:\n\n"
            "1. **Tasks**: write short decision scenarios, or install the ready-made library.\n"
            "2. **Assessments**: issue a one-time link to a candidate.\n"
            "3. **Candidates**: read the profile when they finish; watch live meanwhile."
        )
        st.page_link("app_pages/tasks.py", label="Start with tasks", icon=":material/checklist:")
    if user.role == Role.ADMIN:
        st.page_link("app_pages/team.py", label="Invite your team", icon=":material/group_add:")
else:
    _requests(requests)
    _headline(stats)
    main, side = st.columns([3, 1], gap="large")
    with main:
        _awaiting_review(awaiting, more_awaiting)
        _feed(activity)
    with side:
        _links(user.role)
