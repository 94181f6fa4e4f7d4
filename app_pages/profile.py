"""Candidate profile: one attempt's skill profile, metrics, charts and
timeline. Opened with ?attempt=ID or ?email=ADDRESS, so links can be shared."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from hiremate import attempts, norms, profiles, reports, skills
from hiremate.models import AttemptStatus, SkillProfile
from recruiter import charts, review_panel, session, ui
from recruiter.task_forms import humanize

PICKER_KEY = "profile_attempt"
FLASH_KEY = "profile_flash"
SEARCH_KEY = "profile_email_search"


def _bullets(items: list[str], empty: str) -> None:
    if items:
        st.markdown("\n".join(f"- {session.escape_markdown(item)}" for item in items))
    else:
        st.caption(empty)


scope = session.current_scope()
st.title("Candidate profile")

attempt_param = st.query_params.get("attempt")
email_param = st.query_params.get("email")

if not attempt_param and not email_param:
    st.info("Open a profile from the Candidates page, or find a candidate by email.")
    with st.form("profile_find"):
        email = st.text_input("Candidate email", key=SEARCH_KEY, autocomplete="off")
        found = st.form_submit_button("Find", icon=":material/search:")
    if found and email.strip():
        st.query_params["email"] = email.strip()
        st.rerun()
    st.page_link("app_pages/candidates.py", label="All candidates", icon=":material/groups:")
    st.stop()

attempt_id = attempt_param
if not attempt_id:
    with session.database_guard():
        history = reports.attempts_for_email(scope, email_param or "")
    if not history:
        st.warning(
            f"No assessment for {session.escape_markdown(email_param or '')} was found in your organisation. "
            "Check the address, or search on the Candidates page."
        )
        st.page_link("app_pages/candidates.py", label="All candidates", icon=":material/groups:")
        st.stop()
    choices = {item.attempt_id: f"{item.label} · {ui.status_label(item.status)}" for item in history}
    if st.session_state.get(PICKER_KEY) not in choices:
        # The newest completed attempt first, else the newest issued.
        completed = [item.attempt_id for item in history if item.status == AttemptStatus.COMPLETED]
        st.session_state[PICKER_KEY] = completed[0] if completed else history[0].attempt_id
    if len(history) > 1:
        attempt_id = st.selectbox(
            f"This candidate has {len(history)} assessments",
            options=list(choices),
            format_func=lambda value: choices.get(value, value),
            key=PICKER_KEY,
        )
    else:
        attempt_id = history[0].attempt_id

with session.database_guard():
    bundle = reports.profile_bundle(scope, attempt_id or "")
if bundle is None:
    st.error("Attempt not found in your organisation. It may have been erased, or the link is mistyped.")
    st.page_link("app_pages/candidates.py", label="All candidates", icon=":material/groups:")
    st.stop()

attempt = bundle.attempt
ui.audit_view(scope, "profile.viewed", attempt.id)
info = attempt.candidate_info
status = AttemptStatus(attempt.status)

# ---------------------------------------------------------------- header

st.header(session.escape_markdown(info.name), anchor=False)
facts = [session.escape_markdown(info.email)]
if info.position:
    facts.append(session.escape_markdown(info.position))
facts.append(ui.status_markdown(status))
if attempt.completed_at:
    facts.append(f"Completed {ui.format_time(attempt.completed_at)}")
elif attempt.started_at:
    facts.append(f"Started {ui.format_time(attempt.started_at)}")
else:
    facts.append(f"Issued {ui.format_time(attempt.created_at)}")
if attempt.consent:
    facts.append(f"Notice {attempt.consent.notice_version} acknowledged {ui.format_time(attempt.consent.at)}")
st.markdown(" · ".join(facts))
ui.show_flash(FLASH_KEY)


def _recompute() -> None:
    """Recompute this attempt's metrics and profile (this organisation's only)."""
    with session.database_guard():
        current = attempts.get_attempt(scope, attempt.id)
        if current is None:
            st.error("Attempt not found in your organisation.")
            return
        result = profiles.compute_and_store(scope.db, current.id)
        if result is None:
            st.warning("This attempt has not ended after starting, so there is nothing to compute yet.")
            return
        scope.audit("attempt.recomputed", "attempt", current.id)
    ui.invalidate_reads()
    ui.flash(FLASH_KEY, "Metrics and profile recomputed from the stored events.")
    st.rerun()


if status in (AttemptStatus.PENDING, AttemptStatus.IN_PROGRESS):
    if status == AttemptStatus.PENDING:
        st.info("The candidate has not started this assessment yet. The profile appears once it ends.")
    else:
        st.info(
            "This assessment is in progress. Watch it live; the profile is computed when it ends.",
            icon=":material/sensors:",
        )
        st.page_link(
            "app_pages/live.py",
            label="Watch live",
            icon=":material/sensors:",
            query_params={"attempt": str(attempt.id)},
        )
    st.stop()


def _dimensions(profile: SkillProfile, basis: str) -> None:
    """The dimensions, each with its evidence and what it rests on (in words: not a score)."""
    dimensions = [(view.title, view.label, view.evidence) for view in reports.dimensions(profile)]
    for row in (dimensions[:2], dimensions[2:]):
        for column, (title, label, evidence) in zip(st.columns(2), row, strict=True):
            with column.container(border=True):
                st.caption(title)
                st.markdown(f"### {session.escape_markdown(label)}")
                st.caption(f"Based on {basis}")
                _bullets(list(evidence), "No evidence recorded.")
    strengths_col, considerations_col = st.columns(2)
    with strengths_col:
        st.subheader("Strengths", anchor=False)
        _bullets(profile.strengths, "No particular strengths were derived from this session.")
    with considerations_col:
        st.subheader("Considerations", anchor=False)
        st.caption("Neutral observations to explore in an interview.")
        _bullets(profile.considerations, "Nothing to note.")


def _readable_numbers(columns: Iterable[str]) -> dict[str, Any]:
    """Seconds to one decimal with their unit, scores to two: never "22.718"."""
    config: dict[str, Any] = {}
    for column in columns:
        if column.endswith("_seconds") or column == "seconds_from_task_start":
            config[reports.column_label(column)] = st.column_config.NumberColumn(format="%.1f s")
        elif column.endswith("_score"):
            config[reports.column_label(column)] = st.column_config.NumberColumn(format="%.2f")
    return config


# ---------------------------------------------------------------- answers first


def _answer_card(card: reports.AnswerCard, task_norms: norms.TaskNorms | None) -> None:
    """One task: the scenario, the options (the chosen one marked), the path of choices, the reasoning."""
    with st.container(border=True):
        st.markdown(f"#### {card.number}. {session.escape_markdown(card.title)}")
        if card.description:
            st.caption(session.escape_markdown(card.description))
        st.markdown(_text(card.scenario))
        for option in card.options:
            details = f"{humanize(option.risk_level).lower()} risk"
            if option.tags:
                details += " · " + ", ".join(session.escape_markdown(humanize(tag).lower()) for tag in option.tags)
            text = f"{option.letter}. {session.escape_markdown(option.text)}"
            if option.chosen:
                st.markdown(f":material/check_circle: **{text}** (chosen) :gray[· {details}]")
            else:
                st.markdown(f":material/radio_button_unchecked: {text} :gray[· {details}]")
        if card.state == "not_reached":
            st.caption("Not reached: the assessment ended before this task.")
            return
        path = ", ".join(card.path) or "No option was chosen"
        when = (
            f" Time on the task: {reports.seconds_text(card.seconds_on_task)}."
            if card.seconds_on_task is not None
            else ""
        )
        st.markdown(f"{path[:1].upper()}{path[1:]}.{when}")
        if card.state == "started":
            st.caption("Started, not completed.")
        st.markdown("**Reasoning**")
        if card.reasoning:
            st.markdown(_text(card.reasoning))
        else:
            st.caption("No reasoning was written.")
        if task_norms is not None:
            _norm_lines(task_norms)


def _norm_lines(task_norms: norms.TaskNorms) -> None:
    """Where this candidate falls among the others on this task (only on request, only for 20+)."""
    if not task_norms.shown:
        st.caption(
            f"Norms appear once at least {norms.MIN_GROUP} other candidates have completed this task "
            f"({task_norms.group} so far)."
        )
        return
    lines = [f"- {line.sentence()[:1].upper()}{line.sentence()[1:]}" for line in task_norms.lines]
    st.markdown("**Among others on this task**  \n" + "\n".join(lines))


def _text(typed: str) -> str:
    """Typed text shown as page text, exactly: escaped, its line breaks kept."""
    return "  \n".join(session.escape_markdown(line) for line in typed.splitlines()) or " "


cards = reports.answer_cards(attempt, bundle.events)
if attempt.started_at is not None:
    st.subheader("Answers", divider="gray", anchor=False)
    by_task: dict = {}
    if bundle.metrics is not None and st.toggle(
        "Show norms",
        key="profile_show_norms",
        help="Where this candidate's figures fall among others in your organisation who completed the same task "
        f"(at least {norms.MIN_GROUP}; same rules; assessments with accommodations left out). A ranking, not a score.",
    ):
        with session.database_guard():
            by_task = {n.task_id: n for n in norms.norms_for(scope.db, scope.organization_id, bundle.metrics)}
    for card in cards:
        _answer_card(card, by_task.get(card.task_id) if by_task else None)

if bundle.profile is None or bundle.metrics is None:
    if attempt.started_at is None:
        st.info(
            f"This assessment was {ui.status_label(status).lower()} before it started, so there are no observations."
        )
        st.stop()
    st.warning("This attempt has ended but has no computed profile yet. Compute it from the stored events.")
    if st.button("Compute the profile", key="profile_recompute", type="primary", icon=":material/refresh:"):
        _recompute()
    st.stop()

profile = bundle.profile
metrics = bundle.metrics
if status != AttemptStatus.COMPLETED:
    st.caption(
        f"This attempt was {ui.status_label(status).lower()} before the end: the profile covers the "
        f"{metrics.global_metrics.tasks_completed} of {metrics.global_metrics.total_tasks} tasks completed."
    )

# ---------------------------------------------------------------- profile

st.subheader("Summary", divider="gray", anchor=False)
st.markdown(session.escape_markdown(profile.overall_summary))
st.caption(reports.NO_SCORE_STATEMENT)

basis = skills.confidence_words(profile, metrics)
if profile.thinking_style is None or profile.decision_pattern is None:  # rule 1.2: nothing was completed
    st.caption(f"Based on {basis}: no dimension is described.")
else:
    _dimensions(profile, basis)

# ---------------------------------------------------------------- session signals

st.subheader("Session signals", divider="gray", anchor=False)
st.caption(
    "Observations only: people switch windows or pause for many ordinary reasons. Times are measured inside each task."
)
overall = metrics.global_metrics
focus_losses = sum(item.focus_loss_count for item in metrics.per_task_metrics)
idle_seconds = sum(item.idle_time_seconds for item in metrics.per_task_metrics)
signal_cols = st.columns(4)
signal_cols[0].metric("Left the window", skills.times(focus_losses))
signal_cols[1].metric("Idle time", reports.seconds_text(idle_seconds))
signal_cols[2].metric("Attention stability", f"{metrics.aggregated_patterns.attention_stability:.0%}")
signal_cols[3].metric("Tasks completed", f"{overall.tasks_completed} of {overall.total_tasks}")
time_cols = st.columns(3)
time_cols[0].metric("Total time", reports.seconds_text(overall.total_time_seconds))
time_cols[1].metric("Active time", reports.seconds_text(overall.active_interaction_time_seconds))
time_cols[2].metric("Hesitation time", reports.seconds_text(overall.hesitation_time_seconds))

# ---------------------------------------------------------------- per task

per_task = reports.per_task_frame(metrics, attempt)
st.subheader("Per task", divider="gray", anchor=False)
if per_task.empty:
    st.caption("No task was completed, so there are no per-task metrics.")
else:
    ui.data_table(
        per_task.rename(columns=reports.column_label),
        what="the per-task metrics",
        hide_index=True,
        width="stretch",
        key="profile_per_task",
        column_config=_readable_numbers(per_task.columns),
    )
    left, right = st.columns(2)
    left.plotly_chart(charts.time_per_task_chart(per_task), key="profile_chart_time")
    right.plotly_chart(charts.decision_changes_chart(per_task), key="profile_chart_changes")
    left.plotly_chart(charts.risk_mix_chart(per_task), key="profile_chart_risk")
    right.plotly_chart(charts.first_decision_chart(per_task), key="profile_chart_first")

# ---------------------------------------------------------------- timeline

st.subheader("Timeline", divider="gray", anchor=False)
timeline = reports.timeline_frame(bundle.events, attempt)
if timeline.empty:
    st.caption("No events were recorded for this attempt.")
else:
    task_choices = {0: "All tasks"}
    for number, title in zip(timeline["task_number"], timeline["task_title"], strict=True):
        task_choices.setdefault(int(number), f"{int(number)}. {title}")
    chosen = st.selectbox(
        "Task",
        options=list(task_choices),
        format_func=lambda value: task_choices.get(value, str(value)),
        key="profile_timeline_task",
    )
    shown = timeline if not chosen else timeline[timeline["task_number"] == chosen]
    st.caption(f"{len(shown)} event(s). The candidate's text is shown exactly as typed.")
    ui.data_table(
        shown.rename(columns=reports.column_label),
        what="the timeline",
        hide_index=True,
        width="stretch",
        key="profile_timeline",
        column_config={
            **_readable_numbers(shown.columns),
            reports.column_label("candidate_text"): st.column_config.TextColumn(width="large"),
        },
    )

# ---------------------------------------------------------------- actions

st.subheader("Downloads and maintenance", divider="gray", anchor=False)
download_report, download_metrics, download_events, recompute_col = st.columns(4)
attempt_key = str(attempt.id)
show_norms = bool(st.session_state.get("profile_show_norms"))
download_report.download_button(
    "Profile report (PDF)",
    data=lambda: reports.profile_pdf(scope, attempt_key, show_norms=show_norms),  # built on click, then audited
    file_name=f"hiremate-{attempt_key}-profile.pdf",
    mime="application/pdf",
    on_click="ignore",
    key="profile_download_pdf",
    icon=":material/picture_as_pdf:",
    help="Everything on this page for a hiring manager: answers, summary, dimensions with evidence, "
    "the review and decision" + (", and the norms shown" if show_norms else "") + ".",
)
download_metrics.download_button(
    "Per-task metrics (CSV)",
    data=lambda: reports.attempt_metrics_csv(scope, attempt_key),  # built on click, then audited
    file_name=f"hiremate-{attempt_key}-metrics.csv",
    mime="text/csv",
    on_click="ignore",
    key="profile_download_metrics",
    icon=":material/download:",
)
download_events.download_button(
    "Events (CSV)",
    data=lambda: reports.attempt_events_csv(scope, attempt_key),
    file_name=f"hiremate-{attempt_key}-events.csv",
    mime="text/csv",
    on_click="ignore",
    key="profile_download_events",
    icon=":material/download:",
)
if recompute_col.button(
    "Recompute",
    key="profile_recompute",
    icon=":material/refresh:",
    help="Compute metrics and profile again from the stored events (replaces the current ones).",
):
    _recompute()
st.caption(f"Profile generated {ui.format_time(profile.generated_at)} by rules version {profile.version}.")

review_panel.render(scope, attempt, profile)
