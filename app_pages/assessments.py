"""Assessments: issue a one-time link to a candidate, see every assessment
with its status, re-issue a link, lock one with a reason, open one; answer a
candidate's accommodation request and set accommodations (confidential: only
admins and the recruiter who issued the assessment see or set them).

A link is shown once, right after it is made (only its hash is stored);
losing it means re-issuing, which revokes the old one.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from hiremate import attempts, kits, tasks
from hiremate.models import Accommodations, AssessmentKit, AttemptStatus, TaskAttempt
from hiremate.scope import Scope
from hiremate.settings import get_settings
from hiremate.timeutil import utcnow
from recruiter import assessment_forms, kit_panel, mail_panel, session, task_forms, ui

PAGE_SIZE = 20
MAX_PICKABLE = tasks.MAX_PAGE_SIZE
NEW_LINK = "assess_new_link"  # the link just made, until dismissed (ui.show_secret)
CONFIRM = "assess_confirm"  # ("lock" | "reissue" | "accommodations", attempt id) awaiting confirmation
FLASH = "assess_flash"
CLEAR_FORM = "assess_clear_form"
BY_HAND, SAMPLED, WITH_KIT = "Pick tasks by hand", "Sample tasks at random", "Use a kit"
FORM_KEYS = (
    "assess_candidate_name",
    "assess_candidate_email",
    "assess_candidate_phone",
    "assess_candidate_position",
    "assess_candidate_resume_url",
    "assess_task_ids",
    "assess_sample_size",
    "assess_sample_category",
    "assess_sample_difficulty",
    "assess_extra_time",
    "assess_assistive_technology",
    "assess_accommodation_note",
)
ANY = ""
OPEN = (AttemptStatus.PENDING.value, AttemptStatus.IN_PROGRESS.value)
LINK_WARNING = (
    "Copy the link now and send it to the candidate: it is shown only this once (HireMate stores only a "
    "fingerprint of it). If it gets lost, issue a new link from the list below; the old one then stops working."
)


@st.cache_data(ttl=10, show_spinner=False)
def _pickable_tasks(org: str, _scope: Scope) -> tuple[dict[str, str], int]:
    """Active tasks as id -> label for the picker (at most MAX_PICKABLE), and how many exist."""
    found = tasks.list_tasks(_scope, active=True, limit=MAX_PICKABLE)
    labels = {
        str(t.id): f"{t.title} · {task_forms.humanize(t.category)} · {task_forms.humanize(t.difficulty)}" for t in found
    }
    return labels, tasks.count_tasks(_scope, active=True)


def _confirm(action: str, attempt_id: str) -> None:
    st.session_state[CONFIRM] = (action, attempt_id)


def _cancel() -> None:
    st.session_state.pop(CONFIRM, None)


# ---------------------------------------------------------------- issuing


def _issue_form(scope: Scope, labels: dict[str, str], active_count: int, usable_kits: list[AssessmentKit]) -> None:
    if st.session_state.pop(CLEAR_FORM, False):
        for key in FORM_KEYS:
            st.session_state.pop(key, None)
    modes = [WITH_KIT, BY_HAND, SAMPLED] if usable_kits else [BY_HAND, SAMPLED]
    how = st.radio("Tasks", modes, horizontal=True, key="assess_task_mode")
    kit = _kit_choice(scope, usable_kits) if how == WITH_KIT else None
    with st.form("assess_issue_form", border=False):
        cols = st.columns(2)
        name = cols[0].text_input("Candidate name", key="assess_candidate_name", max_chars=200)
        email = cols[1].text_input("Email", key="assess_candidate_email", max_chars=320)
        phone = cols[0].text_input("Phone (optional)", key="assess_candidate_phone", max_chars=50)
        position = cols[1].text_input("Position", key="assess_candidate_position", max_chars=200)
        resume_url = st.text_input(
            "Resume URL (optional)", key="assess_candidate_resume_url", placeholder="https://", max_chars=2000
        )
        # A kit is chosen above the form, so what it gives and its problems show as soon as it is picked.
        if how == BY_HAND:
            picked = st.multiselect(
                "Tasks, in the order the candidate gets them",
                list(labels),
                format_func=lambda task_id: labels.get(task_id, task_id),
                key="assess_task_ids",
                placeholder="Choose one or more tasks",
            )
            if active_count > len(labels):
                st.caption(f"The first {len(labels)} of {active_count} active tasks are listed; sample to use all.")
        elif how == SAMPLED:
            cols = st.columns(3)
            if st.session_state.get("assess_sample_size", 1) > active_count:  # tasks were deleted meanwhile
                st.session_state["assess_sample_size"] = active_count
            size = cols[0].number_input(
                "Number of tasks", min_value=1, max_value=max(1, active_count), key="assess_sample_size"
            )
            category = ui.filter_select(
                cols[1], "Category", task_forms.CATEGORIES, key="assess_sample_category", everything="Any category"
            )
            difficulty = ui.filter_select(
                cols[2],
                "Difficulty",
                task_forms.DIFFICULTIES,
                key="assess_sample_difficulty",
                everything="Any difficulty",
            )
        days = st.number_input(
            "Link valid for (days)",
            min_value=1,
            max_value=assessment_forms.MAX_EXPIRY_DAYS,
            value=min(get_settings().token_expiry_days, assessment_forms.MAX_EXPIRY_DAYS),
            key="assess_expiry_days",
        )
        extra_time, assistive, note = _accommodation_fields("assess")
        send_email = mail_panel.email_option("assess_send_email")
        submitted = st.form_submit_button("Issue assessment", type="primary", icon=":material/send:")
    if not submitted:
        return
    with ui.refusals():
        candidate = assessment_forms.candidate_info(
            name=name,
            email=email,
            phone=phone,
            position=position or (kit.position if kit else ""),
            resume_url=resume_url,
        )
        source = None
        if kit is not None:
            choice = assessment_forms.TaskChoice()
            source = kits.task_source(scope, kit)
        elif how == BY_HAND:
            choice = assessment_forms.task_choice(by_hand=True, task_ids=picked)
        else:
            choice = assessment_forms.task_choice(
                by_hand=False, sample=int(size), category=category, difficulty=difficulty
            )
        issued = attempts.issue_attempt(
            scope,
            candidate=candidate,
            task_ids=choice.task_ids,
            sample=choice.sample,
            category=choice.category,
            difficulty=choice.difficulty,
            source=source,
            expires_days=assessment_forms.expiry_days(int(days)),
            accommodations=assessment_forms.accommodations(
                extra_time=extra_time, assistive_technology=assistive, note=note
            ),
        )
        ui.remember_secret(
            NEW_LINK,
            issued.link,
            title=f"Assessment link for {candidate.name}",
            note=f"{ui.count_noun(len(issued.attempt.task_ids), 'task')} · valid until {ui.format_time(issued.attempt.expires_at)}"
            + mail_panel.after_issue(scope, issued, send_email),
        )
        st.session_state[CLEAR_FORM] = True
        ui.invalidate_reads()
        st.rerun()


def _kit_choice(scope: Scope, usable_kits: list[AssessmentKit]) -> AssessmentKit | None:
    """The kit picker, what the chosen kit gives, and why it cannot be issued if it cannot."""
    by_id = {str(kit.id): kit for kit in usable_kits}
    chosen = st.selectbox(
        "Kit", list(by_id), format_func=lambda kit_id: kit_panel.kit_label(by_id[kit_id]), key="assess_kit_id"
    )
    kit = by_id.get(chosen)
    if kit is None:
        return None
    st.caption(kit_panel.describe(kit) + (" · a blank position takes the kit's" if kit.position else ""))
    kit_panel.warn_problems(scope, kit, " (Assessment kits, below)")
    return kit


def _accommodation_fields(prefix: str, granted: Accommodations | None = None) -> tuple[str, bool, str]:
    """The accommodation inputs (inside a form): extra time, assistive technology, a note."""
    st.markdown("**Accommodations** (optional; confidential: only admins and you see them)")
    cols = st.columns([2, 3])
    choices = list(assessment_forms.EXTRA_TIME_CHOICES)
    extra_time = cols[0].selectbox(
        "Extra time",
        choices,
        index=choices.index(assessment_forms.extra_time_choice(granted)),
        format_func=assessment_forms.EXTRA_TIME_CHOICES.__getitem__,
        key=f"{prefix}_extra_time",
        help="Time-based observations are divided by the multiplier before anything is interpreted.",
    )
    assistive = cols[1].checkbox(
        "Assistive technology in use (idle and away are not observed or interpreted)",
        value=bool(granted and granted.assistive_technology),
        key=f"{prefix}_assistive_technology",
    )
    note = st.text_input(
        "Note (optional)", value=granted.note if granted else "", max_chars=2000, key=f"{prefix}_accommodation_note"
    )
    return extra_time, assistive, note


# ---------------------------------------------------------------- the list


def _progress(attempt: TaskAttempt) -> str:
    total = len(attempt.task_ids)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        return f"Task {min(attempt.current_task_index + 1, total)} of {total}"
    if attempt.status == AttemptStatus.COMPLETED:
        return f"{total} of {total} tasks"
    if attempt.started_at and attempt.status != AttemptStatus.PENDING:
        return f"{min(attempt.current_task_index, total)} of {total} tasks done"
    return ui.count_noun(total, "task")


def _when(attempt: TaskAttempt, now: datetime) -> str:
    expiry = f"{'expired' if attempt.expires_at < now else 'expires'} {ui.format_ago(attempt.expires_at, now)}"
    match attempt.status:
        case AttemptStatus.PENDING:
            return f"Issued {ui.format_ago(attempt.created_at, now)} · link {expiry}"
        case AttemptStatus.IN_PROGRESS:
            return f"Started {ui.format_ago(attempt.started_at, now)} · {expiry}"
        case AttemptStatus.COMPLETED:
            return f"Completed {ui.format_ago(attempt.completed_at, now)}"
        case AttemptStatus.EXPIRED:
            return f"Expired {ui.format_ago(attempt.expires_at, now)}"
        case AttemptStatus.LOCKED:
            return f"Locked {ui.format_ago(attempt.locked_at, now)}"
    return ""  # pragma: no cover


def _open_link(attempt: TaskAttempt) -> None:
    params = {"attempt": str(attempt.id)}
    if attempt.status == AttemptStatus.IN_PROGRESS:
        st.page_link("app_pages/live.py", label="Watch live", icon=":material/sensors:", query_params=params)
    elif attempt.status in (AttemptStatus.COMPLETED, AttemptStatus.EXPIRED, AttemptStatus.LOCKED):
        if attempt.started_at is None:
            st.caption("Never started")
        else:
            st.page_link(
                "app_pages/profile.py", label="Open profile", icon=":material/person_search:", query_params=params
            )


def _attempt_row(scope: Scope, attempt: TaskAttempt, now: datetime) -> None:
    attempt_id = str(attempt.id)
    candidate = attempt.candidate_info
    with st.container(border=True):
        cols = st.columns([3, 2, 3, 5], vertical_alignment="center")
        cols[0].markdown(f"**{session.escape_markdown(candidate.name)}**")
        details = [candidate.email, candidate.position]
        # Plain text, not a caption: the email is a link, and a link faded like a caption fails contrast.
        cols[0].markdown(" · ".join(session.escape_markdown(d) for d in details if d))
        with cols[1]:
            ui.status_badge(attempt.status)
            st.caption(_progress(attempt))
        cols[2].caption(_when(attempt, now))
        if attempt.status == AttemptStatus.LOCKED and attempt.locked_reason:
            cols[2].caption(f"Reason: {session.escape_markdown(attempt.locked_reason)}")
        request = attempt.accommodation_request
        if request is not None and request.answered_at is None and attempt.status in OPEN:
            cols[2].markdown(
                f":orange-badge[:material/accessibility_new: Asked for an accommodation {ui.format_ago(request.requested_at, now)}]"
            )
        may_see = attempts.may_see_accommodations(scope, attempt)
        with cols[3].container(horizontal=True, horizontal_alignment="right", vertical_alignment="center"):
            _open_link(attempt)
            if attempt.status in OPEN and attempt.expires_at > now:  # past expiry a new link would not work
                st.button(
                    "New link",
                    key=f"assess_reissue_{attempt_id}",
                    icon=":material/link:",
                    help="Make a new link; the current one stops working",
                    on_click=_confirm,
                    args=("reissue", attempt_id),
                )
            if may_see and (attempt.status == AttemptStatus.PENDING or request is not None):
                st.button(
                    "Accommodations",
                    key=f"assess_accommodations_{attempt_id}",
                    icon=":material/accessibility_new:",
                    help="Confidential: the candidate's request and what is granted",
                    on_click=_confirm,
                    args=("accommodations", attempt_id),
                )
            if attempt.status in OPEN:
                st.button(
                    "Lock",
                    key=f"assess_lock_{attempt_id}",
                    icon=":material/lock:",
                    help="End this assessment for good",
                    on_click=_confirm,
                    args=("lock", attempt_id),
                )
        confirm = st.session_state.get(CONFIRM)
        if confirm in {("lock", attempt_id), ("reissue", attempt_id)}:
            (_confirm_lock if confirm[0] == "lock" else _confirm_reissue)(scope, attempt)
        elif confirm == ("accommodations", attempt_id) and may_see:
            _accommodations_panel(scope, attempt)


def _accommodations_panel(scope: Scope, attempt: TaskAttempt) -> None:
    """The candidate's request and the accommodations, for admins and the issuer only."""
    attempt_id = str(attempt.id)
    request = attempt.accommodation_request
    if request is not None:
        needs = ", ".join(assessment_forms.NEED_LABELS[n] for n in request.needs) or "nothing chosen"
        state = "answered" if request.answered_at else "not answered yet"
        st.info(
            f"The candidate asked {ui.format_time(request.requested_at)} ({state}) for: {session.escape_markdown(needs)}",
            icon=":material/accessibility_new:",
        )
        if request.note:
            st.text(request.note)
    st.caption(
        f"Granted now: {session.escape_markdown(assessment_forms.describe_accommodations(attempt.accommodations))}"
    )
    if attempt.status == AttemptStatus.PENDING:
        with st.form(f"assess_accommodations_form_{attempt_id}", border=False):
            extra_time, assistive, note = _accommodation_fields(f"assess_acc_{attempt_id}", attempt.accommodations)
            saved = st.form_submit_button("Save accommodations", type="primary", key=f"assess_acc_save_{attempt_id}")
        if saved:
            with ui.refusals():
                granted = assessment_forms.accommodations(
                    extra_time=extra_time, assistive_technology=assistive, note=note
                )
                attempts.set_accommodations(scope, attempt.id, granted)
                ui.flash(FLASH, "Accommodations saved. The candidate's link stays the same.")
                _cancel()
                ui.invalidate_reads()
                st.rerun()
    else:
        st.caption("Accommodations can be set only before the candidate starts.")
    buttons = st.container(horizontal=True)
    unanswered = request is not None and request.answered_at is None
    if unanswered and buttons.button("Mark the request answered", key=f"assess_acc_answered_{attempt_id}"):
        with ui.refusals():
            attempts.answer_accommodation_request(scope, attempt.id)
            ui.flash(FLASH, "The request is marked answered.")
            _cancel()
            ui.invalidate_reads()
            st.rerun()
    buttons.button("Close", key=f"assess_acc_close_{attempt_id}", on_click=_cancel)


def _confirm_lock(scope: Scope, attempt: TaskAttempt) -> None:
    attempt_id = str(attempt.id)
    name = attempt.candidate_info.name
    st.warning(
        f"Lock the assessment of {session.escape_markdown(name)}? The link stops working and the candidate "
        "cannot continue. This cannot be undone.",
        icon=":material/lock:",
    )
    reason = st.text_input("Reason (kept in the record)", key=f"assess_lock_reason_{attempt_id}", max_chars=500)
    buttons = st.container(horizontal=True)
    locked = buttons.button("Lock assessment", type="primary", key=f"assess_lock_confirm_{attempt_id}")
    buttons.button("Cancel", key=f"assess_lock_cancel_{attempt_id}", on_click=_cancel)
    if locked:
        with ui.refusals():
            attempts.lock_attempt(scope, attempt.id, reason)
            ui.flash(FLASH, f"The assessment of {session.escape_markdown(name)} is locked.")
            _cancel()
            ui.invalidate_reads()
            st.rerun()


def _confirm_reissue(scope: Scope, attempt: TaskAttempt) -> None:
    attempt_id = str(attempt.id)
    name = attempt.candidate_info.name
    started = attempt.status == AttemptStatus.IN_PROGRESS
    st.info(
        f"Make a new link for {session.escape_markdown(name)}? The current link stops working at once."
        + (" The candidate continues where they were with the new link." if started else ""),
        icon=":material/link:",
    )
    buttons = st.container(horizontal=True)
    confirmed = buttons.button("Issue new link", type="primary", key=f"assess_reissue_confirm_{attempt_id}")
    buttons.button("Cancel", key=f"assess_reissue_cancel_{attempt_id}", on_click=_cancel)
    if confirmed:
        with ui.refusals():
            issued = attempts.reissue_link(scope, attempt.id)
            ui.remember_secret(
                NEW_LINK,
                issued.link,
                title=f"New assessment link for {name}",
                note=f"The previous link no longer works · valid until {ui.format_time(issued.attempt.expires_at)}",
            )
            _cancel()
            ui.invalidate_reads()
            st.rerun()


# ---------------------------------------------------------------- the page


scope = session.current_scope()
org = str(scope.organization_id)
st.title("Assessments")
ui.show_flash(FLASH)
ui.show_secret(NEW_LINK, warning=LINK_WARNING)

with session.database_guard():
    labels, active_count = _pickable_tasks(org, scope)
    issued_any = attempts.count_attempts(scope) > 0
    usable_kits = kits.list_kits(scope)

with st.expander("Issue an assessment", expanded=not issued_any, icon=":material/send:"):
    if active_count == 0:
        st.info("There are no active tasks to assess with yet. Write some or install the library first.")
        st.page_link("app_pages/tasks.py", label="Go to Tasks", icon=":material/checklist:")
    else:
        _issue_form(scope, labels, active_count, usable_kits)
    st.caption("Many candidates at once: Bulk issue, in the sidebar, issues a kit to a CSV or pasted list.")

with st.expander(
    "Assessment kits", expanded=st.session_state.get(kit_panel.EDITING) is not None, icon=":material/inventory_2:"
):
    kit_panel.kits_section(scope, labels)

st.subheader("Issued assessments")
filters = st.columns([1, 2])
status = filters[0].selectbox(
    "Status",
    [ANY, *(s.value for s in AttemptStatus)],
    format_func=lambda v: ui.status_label(v) if v else "All statuses",
    key="assess_filter_status",
)
search = (
    filters[1]
    .text_input("Search", key="assess_filter_search", placeholder="Name, email or position", max_chars=200)
    .strip()
)

with session.database_guard():
    one = attempts.get_attempt(scope, st.query_params["attempt"]) if "attempt" in st.query_params else None
if one is not None:
    st.caption(f"Showing the assessment of {session.escape_markdown(one.candidate_info.name)} only.")
    if st.button("Show all assessments", key="assess_show_all"):
        st.query_params.pop("attempt", None)
        st.rerun()
    _attempt_row(scope, one, utcnow())
    mail_panel.attempt_panel(scope, one)
    st.stop()

with session.database_guard():
    total = attempts.count_attempts(scope, status or None, search or None)
    rows = st.container()
    window = ui.paginate(total, key="assess_page", page_size=PAGE_SIZE, reset_on=(status, search), noun="assessment")
    page = (
        attempts.list_attempts(
            scope, status=status or None, search=search or None, skip=window.skip, limit=window.limit
        )
        if total
        else []
    )

with rows:
    if not issued_any:
        st.info(
            "No assessments yet. Issue one above: the candidate gets a link to a short set of decision "
            "scenarios, and their profile appears here when they finish.",
            icon=":material/lightbulb:",
        )
    elif not page:
        st.info("No assessments match these filters.", icon=":material/filter_alt_off:")
    now = utcnow()
    for attempt in page:
        _attempt_row(scope, attempt, now)
