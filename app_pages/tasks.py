"""Tasks: author decision scenarios, list them newest first, search and
filter them, preview one as the candidate sees it, soft-delete and restore.
A title another task has already is warned about (not refused); tags are
optional, with the organisation's own tags suggested.

The editor's model (drafts, widget keys, validation messages, the
candidate's view) is recruiter.task_forms; this file only renders it.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from hiremate import task_library, tasks
from hiremate.models import Task
from hiremate.scope import Scope
from recruiter import session, task_forms, ui
from recruiter.task_forms import CandidateTaskView

PAGE_SIZE = 20
EDITOR = "tasks_f_"  # prefix of the editor's widget keys
EDITING = "tasks_editing"  # absent: closed; "new"; or the id of the task being edited
PREVIEWING = "tasks_previewing"  # id of the task whose preview is open
FLASH = "tasks_flash"
SHOW_CHOICES = {"Active": True, "Deleted": False, "All": None}
ANY = ""


# ---------------------------------------------------------------- reads (cached briefly, cleared after writes)


@st.cache_data(ttl=10, show_spinner=False)
def _count(org: str, category: str, difficulty: str, active: bool | None, search: str, _scope: Scope) -> int:
    return tasks.count_tasks(
        _scope, category=category or None, difficulty=difficulty or None, active=active, search=search or None
    )


@st.cache_data(ttl=10, show_spinner=False)
def _page(
    org: str, category: str, difficulty: str, active: bool | None, search: str, skip: int, limit: int, _scope: Scope
) -> list[Task]:
    return tasks.list_tasks(
        _scope,
        category=category or None,
        difficulty=difficulty or None,
        active=active,
        search=search or None,
        newest_first=True,
        skip=skip,
        limit=limit,
    )


@st.cache_data(ttl=10, show_spinner=False)
def _tag_suggestions(org: str, _scope: Scope) -> list[str]:
    return tasks.tag_suggestions(_scope) or list(task_forms.COMMON_TAGS[:30])


# ---------------------------------------------------------------- editor state (button callbacks)


def _open_editor(task: Task | None) -> None:
    for key in task_forms.state_keys(list(st.session_state.keys()), EDITOR):
        del st.session_state[key]
    draft = task_forms.draft_from_task(task) if task else task_forms.new_draft()
    st.session_state.update(task_forms.state_from_draft(draft, EDITOR))
    st.session_state[EDITING] = str(task.id) if task else "new"
    st.session_state.pop(PREVIEWING, None)


def _close_editor() -> None:
    st.session_state.pop(EDITING, None)


def _add_option() -> None:
    draft = task_forms.add_option(task_forms.draft_from_state(st.session_state, EDITOR))
    st.session_state.update(task_forms.state_from_draft(draft, EDITOR))


def _remove_option(option_id: str) -> None:
    draft = task_forms.remove_option(task_forms.draft_from_state(st.session_state, EDITOR), option_id)
    st.session_state.update(task_forms.state_from_draft(draft, EDITOR))


def _toggle_preview(task_id: str) -> None:
    if st.session_state.get(PREVIEWING) == task_id:
        st.session_state.pop(PREVIEWING, None)
    else:
        st.session_state[PREVIEWING] = task_id


# ---------------------------------------------------------------- rendering


def render_candidate_preview(view: CandidateTaskView, key: str) -> None:
    """The task as the candidate page shows it: no category, difficulty, risk
    levels or tags. The inputs work, and nothing is saved."""
    with st.container(border=True, key=f"{key}_panel"):
        st.caption(":material/visibility: Candidate preview: what the candidate sees")
        st.subheader(session.escape_markdown(view.title) if view.title.strip() else "(no title yet)")
        if view.description:
            st.markdown(session.escape_markdown(view.description))
        st.markdown(session.escape_markdown(view.scenario) if view.scenario.strip() else "*(no scenario yet)*")
        if view.time_hint:
            st.caption(view.time_hint)
        labels = {
            option.id: session.escape_markdown(option.text)
            if option.text.strip()
            else f"(option {number} has no text yet)"
            for number, option in enumerate(view.options, start=1)
        }
        st.radio(
            "Which option would you choose?",
            options=list(labels),
            format_func=labels.__getitem__,
            index=None,
            key=f"{key}_choice",
        )
        text = st.text_area("Explain your choice", key=f"{key}_reasoning", height=120)
        st.caption(f"{view.reasoning_hint} {task_forms.reasoning_counter(text or '', view.min_length)}")


def _task_summary(task: Task) -> str:
    parts = [
        task_forms.humanize(task.category),
        task_forms.humanize(task.difficulty),
        ui.count_noun(len(task.options), "option"),
        f"{ui.format_duration(task.time_limit_seconds)} suggested" if task.time_limit_seconds else "no time limit",
        (
            f"reasoning required, min. {task.reasoning_min_length} characters"
            if task.reasoning_required
            else "reasoning optional"
        ),
    ]
    return " · ".join(parts)


def _editor(scope: Scope) -> None:
    editing = st.session_state[EDITING]
    draft = task_forms.draft_from_state(st.session_state, EDITOR)
    with st.container(border=True):
        st.subheader("New task" if editing == "new" else "Edit task")
        if editing != "new":
            st.caption("Assessments already issued keep the task as it was when they were issued.")
        form, side = st.columns([3, 2], gap="large")
        with form:
            st.text_input("Title", key=task_forms.field_key(EDITOR, "title"), max_chars=200)
            _same_title_warning(scope, draft.title, None if editing == "new" else editing)
            st.text_input(
                "Description",
                key=task_forms.field_key(EDITOR, "description"),
                max_chars=2000,
                help="One line under the title (optional).",
            )
            st.text_area("Scenario", key=task_forms.field_key(EDITOR, "scenario"), max_chars=5000, height=140)
            cols = st.columns(3)
            cols[0].selectbox(
                "Category",
                task_forms.CATEGORIES,
                format_func=task_forms.humanize,
                key=task_forms.field_key(EDITOR, "category"),
            )
            cols[1].selectbox(
                "Difficulty",
                task_forms.DIFFICULTIES,
                format_func=task_forms.humanize,
                key=task_forms.field_key(EDITOR, "difficulty"),
            )
            cols[2].number_input(
                "Suggested time (seconds)",
                min_value=0,
                max_value=3600,
                step=30,
                key=task_forms.field_key(EDITOR, "time_limit_seconds"),
                help="Shown to the candidate as a suggestion; 0 for none. Between 10 and 3600.",
            )
            cols = st.columns(2, vertical_alignment="bottom")
            cols[0].checkbox("Written reasoning required", key=task_forms.field_key(EDITOR, "reasoning_required"))
            cols[1].number_input(
                "Minimum reasoning length (characters)",
                min_value=0,
                max_value=5000,
                step=10,
                key=task_forms.field_key(EDITOR, "reasoning_min_length"),
            )
            _options_editor(draft, _tag_suggestions(str(scope.organization_id), scope))
            problems = st.container()  # validation problems, right above the Save button
            buttons = st.container(horizontal=True)
            save = buttons.button("Save task", type="primary", key="tasks_save", icon=":material/save:")
            buttons.button("Cancel", key="tasks_cancel", on_click=_close_editor)
        with side:
            render_candidate_preview(task_forms.candidate_view(draft), "tasks_draft_preview")
    if save:
        _save(scope, editing, draft, problems)


def _same_title_warning(scope: Scope, title: str, editing: str | None) -> None:
    """A warning (not a refusal) when another task has this title, case and spacing aside."""
    with session.database_guard():
        others = tasks.same_title(scope, title, exclude=editing)
    if others:
        deleted = " (deleted)" if all(not t.is_active for t in others) else ""
        st.warning(
            f"Another task is already called “{session.escape_markdown(others[0].title)}”{deleted}. Recruiters "
            "and reports tell tasks apart by title: a distinct one avoids mix-ups.",
            icon=":material/content_copy:",
        )


def _options_editor(draft: task_forms.TaskDraft, suggestions: list[str]) -> None:
    st.markdown("**Options** (2 to 6)")
    st.caption(
        "No option is right or wrong. Give each the risk it takes and, if you like, the behaviour it expresses "
        "as tags; candidates see only the text."
    )
    if suggestions:
        st.caption("Tags already in use: " + session.escape_markdown(", ".join(suggestions)))
    removable = task_forms.can_remove_option(draft)
    for number, option in enumerate(draft.options, start=1):
        with st.container(border=True):
            st.text_area(
                f"Option {number}",
                key=task_forms.option_key(EDITOR, option.id, "text"),
                max_chars=1000,
                height=68,
            )
            cols = st.columns([2, 4, 2], vertical_alignment="bottom")
            cols[0].selectbox(
                "Risk level",
                task_forms.RISK_LEVELS,
                format_func=task_forms.humanize,
                key=task_forms.option_key(EDITOR, option.id, "risk_level"),
            )
            cols[1].text_input(
                "Behavioural tags (optional)",
                key=task_forms.option_key(EDITOR, option.id, "tags"),
                placeholder="e.g. " + ", ".join(suggestions[:2] or ["cautious", "methodical"]),
                help="Comma-separated; optional. Tags already in use: " + ", ".join(suggestions),
            )
            cols[2].button(
                "Remove",
                icon=":material/delete:",
                key=f"tasks_remove_{option.id}",
                help="Remove this option" if removable else "A task needs at least 2 options",
                disabled=not removable,
                on_click=_remove_option,
                args=(option.id,),
                width="stretch",
            )
    st.button(
        "Add option",
        icon=":material/add:",
        key="tasks_add_option",
        disabled=not task_forms.can_add_option(draft),
        help=None if task_forms.can_add_option(draft) else "A task has at most 6 options",
        on_click=_add_option,
    )


def _save(scope: Scope, editing: str, draft: task_forms.TaskDraft, problems: DeltaGenerator) -> None:
    with ui.refusals(problems):
        data = task_forms.to_task_input(draft)
        if editing == "new":
            task = tasks.create_task(scope, data)
            ui.flash(FLASH, f"Task “{session.escape_markdown(task.title)}” created.")
        else:
            current = tasks.get_task(scope, editing)
            if current is None:
                raise tasks.TaskNotFound("this task no longer exists in your organisation")
            changes = task_forms.changed_fields(current, data)
            if changes:
                tasks.update_task(scope, current.id, changes)
                ui.flash(FLASH, f"Task “{session.escape_markdown(data.title)}” saved.")
            else:
                ui.flash(FLASH, "Nothing changed.", kind="info")
        ui.invalidate_reads()
        _close_editor()
        st.rerun()


def _task_row(scope: Scope, task: Task) -> None:
    task_id = str(task.id)
    with st.container(border=True):
        info, actions = st.columns([5, 3], vertical_alignment="center")
        deleted = "" if task.is_active else " :gray-badge[:material/delete: Deleted]"
        info.markdown(f"**{session.escape_markdown(task.title)}**{deleted}")
        info.caption(_task_summary(task))
        buttons = actions.container(horizontal=True, horizontal_alignment="right")
        previewing = st.session_state.get(PREVIEWING) == task_id
        buttons.button(
            "Hide preview" if previewing else "Preview",
            icon=":material/visibility:",
            key=f"tasks_preview_{task_id}",
            help="The task as the candidate sees it",
            on_click=_toggle_preview,
            args=(task_id,),
        )
        buttons.button("Edit", icon=":material/edit:", key=f"tasks_edit_{task_id}", on_click=_open_editor, args=(task,))
        if task.is_active:
            if buttons.button(
                "Delete",
                icon=":material/delete:",
                key=f"tasks_delete_{task_id}",
                help="Hide it from new assessments; you can restore it",
            ):
                with ui.refusals():
                    tasks.soft_delete_task(scope, task.id)
                    ui.flash(
                        FLASH,
                        f"Task “{session.escape_markdown(task.title)}” deleted. Show “Deleted” tasks to restore it.",
                    )
                    ui.invalidate_reads()
                    st.rerun()
        elif buttons.button("Restore", icon=":material/restore_from_trash:", key=f"tasks_restore_{task_id}"):
            with ui.refusals():
                tasks.restore_task(scope, task.id)
                ui.flash(FLASH, f"Task “{session.escape_markdown(task.title)}” restored.")
                ui.invalidate_reads()
                st.rerun()
        if st.session_state.get(EDITING) == task_id:
            _editor(scope)
        elif previewing:
            render_candidate_preview(task_forms.candidate_view(task), f"tasks_pv_{task_id}")


def _empty_library(scope: Scope) -> None:
    st.info(
        "No tasks yet. Write your own with **New task**, or start from HireMate's library of "
        f"{len(task_library.LIBRARY)} workplace scenarios (you can edit or delete any of them).",
        icon=":material/lightbulb:",
    )
    if st.button("Install the task library", key="tasks_install_library", icon=":material/library_add:"):
        with ui.refusals():
            added = task_library.install_library(scope)
            ui.flash(FLASH, f"Added {added} tasks from the library.")
            ui.invalidate_reads()
            st.rerun()


# ---------------------------------------------------------------- the page


scope = session.current_scope()
org = str(scope.organization_id)

header = st.columns([4, 1], vertical_alignment="bottom")
header[0].title("Tasks")
header[1].button(
    "New task", type="primary", icon=":material/add:", key="tasks_new", on_click=_open_editor, args=(None,)
)
ui.show_flash(FLASH)

if EDITING in st.session_state and task_forms.field_key(EDITOR, "title") not in st.session_state:
    _close_editor()  # its inputs were forgotten while another page was open
# A new task is written up here; an existing one in its row of the list
# (or up here when the filters hide its row).
editor_slot = st.container()

search = st.text_input("Search", key="tasks_filter_search", placeholder="Words of the title", max_chars=200).strip()
filters = st.columns(3)
category = ui.filter_select(
    filters[0], "Category", task_forms.CATEGORIES, key="tasks_filter_category", everything="All categories"
)
difficulty = ui.filter_select(
    filters[1], "Difficulty", task_forms.DIFFICULTIES, key="tasks_filter_difficulty", everything="All difficulties"
)
show = filters[2].selectbox("Show", list(SHOW_CHOICES), key="tasks_filter_status")
active = SHOW_CHOICES[show]

with session.database_guard():
    total = _count(org, category, difficulty, active, search, scope)
    rows = st.container()
    window = ui.paginate(
        total, key="tasks_page", page_size=PAGE_SIZE, reset_on=(category, difficulty, show, search), noun="task"
    )
    page = _page(org, category, difficulty, active, search, window.skip, window.limit, scope) if total else []
    nothing_at_all = total == 0 and _count(org, ANY, ANY, None, ANY, scope) == 0

with rows:
    if nothing_at_all:
        _empty_library(scope)
    elif not page:
        st.info("No tasks match these filters.", icon=":material/filter_alt_off:")
    for task in page:
        _task_row(scope, task)

editing = st.session_state.get(EDITING)
if editing is not None and editing not in {str(task.id) for task in page}:
    with editor_slot:
        _editor(scope)
