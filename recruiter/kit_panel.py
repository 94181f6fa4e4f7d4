"""The assessment kits section of the Assessments page: the organisation's
kits with what each gives a candidate and any problem (tasks deleted since),
a form to create or edit one (tasks in order, or a sampling rule), archive
and restore. The rules are ``hiremate.kits``; this draws them."""

from __future__ import annotations

import streamlit as st

from hiremate import kits, tasks
from hiremate.models import AssessmentKit
from hiremate.scope import Scope
from recruiter import session, task_forms, ui

EDITING = "kits_editing"  # the id of the kit whose form is open ("new" for a new one)
FLASH = "kits_flash"
BY_HAND, SAMPLED = "These tasks, in this order", "Tasks drawn at random for each candidate"
NEW = "new"


def describe(kit: AssessmentKit) -> str:
    """What a candidate gets from ``kit``, in words."""
    if kit.task_ids is not None:
        return ui.count_noun(len(kit.task_ids), "task") + " in a fixed order"
    rule = kit.sampling
    assert rule is not None
    parts = [ui.count_noun(rule.count, "task") + " drawn at random"]
    if rule.categories:
        parts.append("from " + ", ".join(task_forms.humanize(c) for c in rule.categories))
    if rule.difficulties:
        parts.append("of difficulty " + " or ".join(task_forms.humanize(d) for d in rule.difficulties))
    return " ".join(parts)


def kit_label(kit: AssessmentKit) -> str:
    """A kit as a picker lists it."""
    position = f" · {kit.position}" if kit.position else ""
    return f"{kit.name}{position} · {ui.count_noun(kit.task_count, 'task')}"


def kits_section(scope: Scope, labels: dict[str, str]) -> None:
    """The list and the form; ``labels``: the active tasks a kit may use (id -> label)."""
    ui.show_flash(FLASH)
    st.caption(
        "A kit is a named choice of tasks for a position, reused for every candidate you issue it to "
        "(here, in bulk and from the command line)."
    )
    show_archived = st.toggle("Show archived kits", key="kits_show_archived")
    with session.database_guard():
        listed = kits.list_kits(scope, archived=None if show_archived else False)
    if not listed:
        st.info("No kits yet. Create one to issue the same tasks to every candidate of a position.")
    for kit in listed:
        _kit_row(scope, kit)
    editing = st.session_state.get(EDITING)
    if editing is None:
        st.button("New kit", key="kits_new", icon=":material/add:", on_click=_edit, args=(NEW,))
    elif editing == NEW:
        _kit_form(scope, labels, None)


def _edit(kit_id: str | None) -> None:
    if kit_id is None:
        st.session_state.pop(EDITING, None)
    else:
        st.session_state[EDITING] = kit_id
    for key in list(st.session_state):
        if str(key).startswith("kit_form_"):
            del st.session_state[key]


def _kit_row(scope: Scope, kit: AssessmentKit) -> None:
    kit_id = str(kit.id)
    with st.container(border=True):
        cols = st.columns([4, 4, 3], vertical_alignment="center")
        archived = " (archived)" if kit.archived else ""
        cols[0].markdown(f"**{session.escape_markdown(kit.name)}**{archived}")
        if kit.position:
            cols[0].caption(session.escape_markdown(kit.position))
        cols[1].caption(describe(kit))
        if kit.description:
            cols[1].caption(session.escape_markdown(kit.description))
        with cols[2].container(horizontal=True, horizontal_alignment="right"):
            if kit.archived:
                st.button("Restore", key=f"kits_restore_{kit_id}", on_click=_restore, args=(scope, kit_id))
            else:
                st.button("Edit", key=f"kits_edit_{kit_id}", icon=":material/edit:", on_click=_edit, args=(kit_id,))
                st.button("Archive", key=f"kits_archive_{kit_id}", on_click=_archive, args=(scope, kit_id))
        if not kit.archived:
            warn_problems(scope, kit)
        if st.session_state.get(EDITING) == kit_id:
            with session.database_guard():
                labels = _labels_with(scope, kit)
            _kit_form(scope, labels, kit)


def _labels_with(scope: Scope, kit: AssessmentKit) -> dict[str, str]:
    """The pickable tasks plus the kit's own (a deleted one too, so the form shows it to be removed)."""
    labels = {
        str(t.id): f"{t.title} · {task_forms.humanize(t.category)} · {task_forms.humanize(t.difficulty)}"
        for t in tasks.list_tasks(scope, active=True, limit=tasks.MAX_PAGE_SIZE)
    }
    for task_id in kit.task_ids or []:
        if str(task_id) not in labels:
            found = tasks.get_task(scope, task_id)
            labels[str(task_id)] = f"{found.title} (deleted)" if found else f"{task_id} (no longer exists)"
    return labels


def _kit_form(scope: Scope, labels: dict[str, str], kit: AssessmentKit | None) -> None:
    prefix = "kit_form_"
    how = st.radio(
        "Tasks",
        [BY_HAND, SAMPLED],
        index=0 if kit is None or kit.task_ids is not None else 1,
        horizontal=True,
        key=f"{prefix}mode",
    )
    rule = kit.sampling if kit is not None else None
    with st.form("kit_form", border=False):
        cols = st.columns(2)
        name = cols[0].text_input("Kit name", value=kit.name if kit else "", max_chars=120, key=f"{prefix}name")
        position = cols[1].text_input(
            "Position", value=kit.position if kit else "", max_chars=200, key=f"{prefix}position"
        )
        description = st.text_input(
            "Description (optional)", value=kit.description if kit else "", max_chars=1000, key=f"{prefix}description"
        )
        if how == BY_HAND:
            picked = st.multiselect(
                "Tasks, in the order the candidate gets them",
                list(labels),
                default=[str(t) for t in (kit.task_ids or [])] if kit else [],
                format_func=lambda task_id: labels.get(task_id, task_id),
                key=f"{prefix}task_ids",
                placeholder="Choose one or more tasks",
            )
        else:
            cols = st.columns(3)
            count = cols[0].number_input(
                "Number of tasks", min_value=1, max_value=50, value=rule.count if rule else 3, key=f"{prefix}count"
            )
            categories = cols[1].multiselect(
                "Categories (none: any)",
                task_forms.CATEGORIES,
                default=list(rule.categories) if rule else [],
                format_func=task_forms.humanize,
                key=f"{prefix}categories",
            )
            difficulties = cols[2].multiselect(
                "Difficulties (none: any)",
                task_forms.DIFFICULTIES,
                default=list(rule.difficulties) if rule else [],
                format_func=task_forms.humanize,
                key=f"{prefix}difficulties",
            )
        buttons = st.container(horizontal=True)
        saved = buttons.form_submit_button("Save kit", type="primary")
        cancelled = buttons.form_submit_button("Cancel")
    if cancelled:
        _edit(None)
        st.rerun()
    if not saved:
        return
    data: dict[str, object] = {"name": name, "position": position, "description": description}
    if how == BY_HAND:
        data["task_ids"] = list(picked)
    else:
        data["sampling"] = {"count": int(count), "categories": categories, "difficulties": difficulties}
    with ui.refusals():
        if kit is None:
            stored = kits.create_kit(scope, data)
            ui.flash(FLASH, f"Kit “{session.escape_markdown(stored.name)}” created.")
        else:
            stored = kits.update_kit(scope, kit.id, data)
            ui.flash(FLASH, f"Kit “{session.escape_markdown(stored.name)}” saved.")
        _edit(None)
        ui.invalidate_reads()
        st.rerun()


def _archive(scope: Scope, kit_id: str) -> None:
    with ui.refusals():
        kit = kits.archive_kit(scope, kit_id)
        ui.flash(FLASH, f"Kit “{session.escape_markdown(kit.name)}” archived. Attempts issued with it keep it.")
        ui.invalidate_reads()


def _restore(scope: Scope, kit_id: str) -> None:
    with ui.refusals():
        kit = kits.restore_kit(scope, kit_id)
        ui.flash(FLASH, f"Kit “{session.escape_markdown(kit.name)}” restored.")
        ui.invalidate_reads()


def warn_problems(scope: Scope, kit: AssessmentKit, where: str = "") -> bool:
    """Say why the kit cannot be issued (its tasks gone or inactive), if so;
    ``where`` tells where to edit it. True when it has problems."""
    with session.database_guard():
        problems = kits.kit_problems(scope, kit)
    if problems:
        st.warning(
            f"This kit cannot be issued until it is edited{where}: "
            + session.escape_markdown("; ".join(problems))
            + ".",
            icon=":material/warning:",
        )
    return bool(problems)
