"""The API keys page's parts (admins): making a key (shown once), the list
with last use, and revoking one after a confirmation. The rules are
``hiremate.api_keys``'s; this only draws them."""

from __future__ import annotations

import streamlit as st

from hiremate import api_keys
from hiremate.api_keys import ApiKeyPublic
from hiremate.scope import Scope
from recruiter import session, ui

NEW_KEY = "api_keys_new"  # the key just made, until dismissed
FLASH = "api_keys_flash"
CLEAR_FORM = "api_keys_clear_form"
REVOKE_CHOICE = "api_keys_revoke_choice"
REVOKE_CONFIRM = "api_keys_revoke_confirm"
ACCESS_LABELS = {"read": "Read only (GET)", "write": "Read and write"}
KEY_WARNING = (
    "Copy the key now and keep it like a password: it is shown only this once and HireMate stores only a "
    "fingerprint of it. Anyone holding it acts for your organisation through the API. If it gets lost or leaks, "
    "revoke it below and make a new one."
)


def create_form(scope: Scope) -> None:
    if st.session_state.pop(CLEAR_FORM, False):
        st.session_state.pop("api_keys_name", None)
    with st.form("api_keys_create_form", border=False):
        cols = st.columns([3, 2], vertical_alignment="bottom")
        name = cols[0].text_input(
            "Name", key="api_keys_name", placeholder="e.g. Greenhouse, nightly export", max_chars=100
        )
        access = cols[1].selectbox(
            "Access", list(ACCESS_LABELS), format_func=ACCESS_LABELS.__getitem__, key="api_keys_access"
        )
        submitted = st.form_submit_button("Create key", type="primary", icon=":material/key:")
    if submitted:
        with ui.refusals():
            made, plaintext = api_keys.create(scope, name, access)
            ui.remember_secret(
                NEW_KEY,
                plaintext,
                title=f"API key “{made.name}” ({ACCESS_LABELS[str(made.access)].lower()})",
                note="Send it as the header Authorization: Bearer followed by the key. "
                "The copy button at the right of the box copies it exactly.",
            )
            st.session_state[CLEAR_FORM] = True
            st.rerun()


def show_new_key() -> None:
    ui.show_secret(NEW_KEY, warning=KEY_WARNING)


def _status(key: ApiKeyPublic) -> str:
    return f"Revoked {ui.format_time(key.revoked_at)}" if key.revoked_at else "Active"


def keys_table(keys: list[ApiKeyPublic]) -> None:
    """The keys as a plain table (text, not a canvas grid: screen readers read it)."""
    if not keys:
        st.info("No API keys yet. Create one above for each system that uses the API.", icon=":material/key_off:")
        return
    rows = [
        {
            "Name": key.name,
            "Key starts with": key.prefix + "…",
            "Access": ACCESS_LABELS[str(key.access)],
            "Created": ui.format_time(key.created_at) + (" (command line)" if key.created_via == "cli" else ""),
            "Last used": ui.format_time(key.last_used_at) if key.last_used_at else "Never",
            "Status": _status(key),
        }
        for key in keys  # never the key or its hash
    ]
    st.table(rows)


def revoke_form(scope: Scope, keys: list[ApiKeyPublic]) -> None:
    active = {key.id: key for key in keys if key.revoked_at is None}
    if not active:
        return
    st.subheader("Revoke a key")
    chosen = st.selectbox(
        "Key to revoke",
        list(active),
        format_func=lambda key_id: f"{active[key_id].name} · {active[key_id].prefix}…",
        key=REVOKE_CHOICE,
    )
    sure = st.checkbox(
        "I understand that every system using this key stops working at once; this cannot be undone.",
        key=REVOKE_CONFIRM,
    )
    if st.button("Revoke key", key="api_keys_revoke", icon=":material/block:", disabled=not sure):
        with ui.refusals():
            revoked = api_keys.revoke(scope, chosen)
            ui.flash(FLASH, f"The key {session.escape_markdown(revoked.name)} is revoked: it no longer works.")
            st.session_state.pop(REVOKE_CONFIRM, None)
            st.rerun()
