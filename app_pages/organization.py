"""Organisation (admins): what candidates are told and whom they can contact,
how long their data is kept, and the time zone every page shows times in.
The rules live in hiremate.organizations; this page is the form."""

from __future__ import annotations

import json
from zoneinfo import available_timezones

import streamlit as st

from hiremate import erasure, organizations
from recruiter import mail_settings, session, ui

FLASH = "organization_flash"
RECEIPT = "organization_erasure_receipt"
ZONES = sorted(available_timezones() - {"localtime", "Factory"})

session.require_admin("Organisation")
scope = session.current_scope()

st.title("Organisation")
ui.show_flash(FLASH)
with session.database_guard():
    organization = organizations.get_organization(scope.db, scope.organization_id)
    notice = organizations.notice_for(scope.db, scope.organization_id)
if organization is None:
    st.error("Your organisation no longer exists.")
    st.stop()
current = organization.settings

st.markdown(
    "Every candidate reads a notice on the assessment's welcome screen and acknowledges it before anything is "
    "recorded. It names your organisation and a contact for questions, accommodations or an alternative, and says "
    "how long their data is kept. If you use HireMate as an automated employment decision tool in New York City, "
    "you must also notify candidates yourself at least 10 business days before they take it (Local Law 144): "
    "the welcome screen is the last place a candidate learns this, not the only one."
)

with st.form("organization_form", border=True):
    display_name = st.text_input(
        "Name shown to candidates",
        value=current.display_name or "",
        placeholder=organization.name,
        max_chars=200,
        key="organization_display_name",
        help="Leave empty to use the organisation's name.",
    )
    contact = st.text_input(
        "Contact for candidates",
        value=current.contact or "",
        placeholder=notice.contact or "jobs@example.com",
        max_chars=320,
        key="organization_contact",
        help="An email address or another way to reach a person. Leave empty to use the first admin's email.",
    )
    retention = st.number_input(
        "Keep candidates' data for (days)",
        min_value=30,
        max_value=3650,
        value=current.retention_days,
        step=1,
        key="organization_retention_days",
        help="Stated in the notice. CNIL's guidance: at most two years (730 days) after the last contact.",
    )
    additions = st.text_area(
        "Your own text for the notice (optional)",
        value=current.notice_additions,
        max_chars=4000,
        key="organization_notice_additions",
        help="Shown under HireMate's notice, as plain text.",
    )
    zone = st.selectbox(
        "Time zone",
        ZONES,
        index=ZONES.index(current.time_zone) if current.time_zone in ZONES else ZONES.index("UTC"),
        key="organization_time_zone",
        help="Every page shows times in this zone.",
    )
    self_identification = st.checkbox(
        "Ask candidates to self-identify, voluntarily, after they finish",
        value=current.self_identification,
        key="organization_self_identification",
        help=(
            "Off by default. The thank-you screen then offers optional questions (sex; race or ethnicity in the "
            "EEO-1 categories NYC Local Law 144's bias audits use; 'prefer not to say' for each), with the explicit "
            "consent GDPR Art. 9(2)(a) requires. Answers are kept apart and never shown for one candidate: only "
            "the impact report counts them per group."
        ),
    )
    saved = st.form_submit_button("Save", type="primary", icon=":material/save:", key="organization_save")

if saved:
    with ui.refusals():
        organizations.update_settings(
            scope,
            {
                "display_name": display_name,
                "contact": contact,
                "retention_days": int(retention),
                "notice_additions": additions,
                "time_zone": zone,
                "self_identification": self_identification,
            },
        )
        ui.flash(FLASH, "Saved. Candidates who start from now on are shown the new notice.")
        st.rerun()

st.subheader("What candidates are told")
st.markdown(
    f"**Organisation:** {session.escape_markdown(notice.organization_name)}  \n"
    f"**Contact:** {session.escape_markdown(notice.contact or 'none yet')}  \n"
    f"**Data kept for:** {ui.count_noun(notice.retention_days, 'day')}  \n"
    f"**Notice version:** `{notice.version}` (stored with each candidate's consent)"
)
if notice.additions:
    st.text(notice.additions)

mail_settings.emails_section(scope, organization)

st.subheader("Erase a candidate")
st.markdown(
    "Removes every assessment of one email address in your organisation, for good: the candidate's details, "
    "accommodations and consent, every recorded event, the metrics, the profile, people's reviews and decisions, "
    "the voluntary self-identification, and what the norms took from them. The audit log records that an erasure happened, with counts only. "
    "You get a receipt to download; HireMate does not keep it."
)
with st.form("erase_form", border=True, clear_on_submit=True):
    erase_email = st.text_input("Candidate's email", max_chars=320, key="erase_email")
    erase_confirmation = st.text_input("Type the email again to confirm", max_chars=320, key="erase_confirmation")
    erase = st.form_submit_button(
        "Erase for good", type="primary", icon=":material/delete_forever:", key="erase_submit"
    )
if erase:
    st.session_state.pop(RECEIPT, None)
    with ui.refusals():
        st.session_state[RECEIPT] = erasure.erase_candidate(
            scope, erase_email, confirmation=erase_confirmation
        ).as_json()
receipt = st.session_state.get(RECEIPT)
if receipt:
    removed = receipt["removed"]
    st.success(f"Erased {ui.count_noun(removed.get('task_attempts', 0), 'assessment')} and everything they held.")
    st.table({"what": list(removed), "documents removed": list(removed.values())})
    st.download_button(
        "Download the receipt (JSON)",
        data=json.dumps(receipt, indent=2),
        file_name=f"erasure-receipt-{receipt['at'][:10]}.json",
        mime="application/json",
        on_click="ignore",
        key="erase_receipt_download",
        icon=":material/download:",
    )
