"""Bulk issue: upload a CSV or paste rows of candidates, see each row's
problems, issue every valid row with one assessment kit, email each
candidate their link (when a mail server is set up and the recruiter keeps
it ticked), and download the links that were not emailed. The work is in
``recruiter.bulk_issue``.

The links are kept in this browser tab's session until dismissed (only
their hashes are stored), like the single link on the Assessments page.
"""

from __future__ import annotations

import streamlit as st

from hiremate import kits
from hiremate.models import AssessmentKit
from hiremate.scope import Scope
from recruiter import assessment_forms, bulk_issue, kit_panel, mail_panel, session, ui
from recruiter.bulk_issue import BulkPreview, BulkResult, BulkRow

PREVIEW = "bulk_preview"
RESULT = "bulk_result"
SHOWN_ROWS = 50  # problem rows listed on the page; all of them are in the download
HELP = (
    "One candidate a row: name, email, position, phone (optional). A first row naming the columns "
    "(Name, E-mail, Position, Phone ...) may give them in any order; without one, that order is assumed. "
    "Comma, semicolon or tab separated; a blank position takes the kit's."
)


def _forget() -> None:
    st.session_state.pop(RESULT, None)


def _row_lines(rows: list[BulkRow], notes: str) -> str:
    lines = [f"- Line {row.line}: {session.escape_markdown('; '.join(getattr(row, notes)))}" for row in rows]
    more = len(rows) - SHOWN_ROWS
    return "\n".join(lines[:SHOWN_ROWS] + ([f"- … and {more} more (in the download)"] if more > 0 else []))


def _show_preview(scope: Scope, checked: BulkPreview, days: int) -> None:
    ready, refused, warned = checked.ready, checked.refused, checked.warned
    summary = f"{ui.count_noun(len(checked.rows), 'row')}: {len(ready)} ready"
    if refused:
        summary += f", {len(refused)} with problems (not issued)"
    if warned:
        summary += f", {len(warned)} with a warning (issued)"
    st.markdown(f"**{summary}.**")
    if refused:
        st.error("These rows are not issued:\n\n" + _row_lines(refused, "problems"), icon=":material/error:")
        st.download_button(
            "Download the rows with problems (CSV)",
            bulk_issue.problems_csv(refused),
            file_name="rows-with-problems.csv",
            mime="text/csv",
            on_click="ignore",
            key="bulk_problems_csv",
        )
    if warned:
        st.warning("Check these rows:\n\n" + _row_lines(warned, "warnings"), icon=":material/warning:")
    if not ready:
        return
    # The mail hook: one queued invitation per issued attempt, or none and every link in the download.
    send_email = mail_panel.email_option("bulk_send_email", label="Email each candidate their link")
    if st.button(f"Issue {ui.count_noun(len(ready), 'assessment')}", type="primary", key="bulk_issue"):
        with ui.refusals():
            send = bulk_issue.queue_invitations if send_email else None
            result = bulk_issue.issue(scope, checked, expires_days=days, send=send)
            st.session_state[RESULT] = result
            st.session_state.pop(PREVIEW, None)
            ui.invalidate_reads()
            st.rerun()


def _show_result(result: BulkResult) -> None:
    issued, waiting = len(result.issued), len(result.not_emailed)
    emailed = issued - waiting
    with st.container(border=True):
        st.success(
            f"{ui.count_noun(issued, 'assessment')} issued"
            + (f", {emailed} invitations emailed" if emailed else "")
            + (f"; {len(result.refused)} rows were not issued." if result.refused else "."),
            icon=":material/check_circle:",
        )
        if waiting:
            st.download_button(
                f"Download {ui.count_noun(waiting, 'link')} to send (CSV)",
                bulk_issue.links_csv(result),
                file_name="assessment-links.csv",
                mime="text/csv",
                type="primary",
                on_click="ignore",
                key="bulk_links_csv",
                icon=":material/download:",
            )
            st.warning(
                "Download the links now: they are shown only this once (HireMate stores only a fingerprint of "
                "each). A lost link can be replaced from the Assessments page; the old one then stops working.",
                icon=":material/visibility_off:",
            )
        st.button("Done", key="bulk_done", on_click=_forget)


def _kit_picker(usable: list[AssessmentKit]) -> AssessmentKit:
    by_id = {str(kit.id): kit for kit in usable}
    chosen = st.selectbox(
        "Kit", list(by_id), format_func=lambda kit_id: kit_panel.kit_label(by_id[kit_id]), key="bulk_kit_id"
    )
    kit = by_id[chosen]
    st.caption(kit_panel.describe(kit))
    return kit


# ---------------------------------------------------------------- the page


scope = session.current_scope()
st.title("Bulk issue")

kept = st.session_state.get(RESULT)
if isinstance(kept, BulkResult):
    _show_result(kept)

with session.database_guard():
    usable = kits.list_kits(scope)
if not usable:
    st.info(
        "Bulk issue gives every candidate of the list the same assessment kit. Create a kit first "
        "(Assessments, Assessment kits).",
        icon=":material/inventory_2:",
    )
    st.page_link("app_pages/assessments.py", label="Go to Assessments", icon=":material/send:")
    st.stop()

cols = st.columns([3, 1])
with cols[0]:
    kit = _kit_picker(usable)
days = cols[1].number_input(
    "Links valid for (days)",
    min_value=1,
    max_value=assessment_forms.MAX_EXPIRY_DAYS,
    value=7,
    key="bulk_expiry_days",
)
upload, paste = st.tabs(["Upload a CSV", "Paste rows"])
with upload:
    uploaded = st.file_uploader("Candidate list (CSV)", type=["csv", "txt"], key="bulk_file", help=HELP)
with paste:
    pasted = st.text_area(
        "Rows copied from a spreadsheet",
        key="bulk_paste",
        height=160,
        placeholder="Ada Lovelace, ada@example.com, Data analyst",
        help=HELP,
    )
st.caption(HELP)
if st.button("Check the rows", key="bulk_check", icon=":material/rule:"):
    with ui.refusals():
        text = bulk_issue.decode(uploaded.getvalue()) if uploaded is not None else pasted
        st.session_state[PREVIEW] = bulk_issue.preview(scope, text, kit)
        _forget()

checked = st.session_state.get(PREVIEW)
if isinstance(checked, BulkPreview) and checked.kit.id == kit.id:
    _show_preview(scope, checked, int(days))
