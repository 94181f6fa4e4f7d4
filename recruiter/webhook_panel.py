"""The Webhooks page (admins): register an endpoint (its secret shown once),
the organisation's endpoints, each one's delivery log in the organisation's
time zone, redelivery by hand, pause, resume, a new secret, removal. The
rules are ``hiremate.webhooks``; this draws them.

    webhook_panel.register_form(scope)
    webhook_panel.endpoints_section(scope)
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from hiremate import webhooks
from hiremate.scope import Scope
from recruiter import session, ui

SECRET = "webhooks_secret"  # a secret just made (ui.show_secret)
FLASH = "webhooks_flash"
LOG_ROWS = 50
STATUS_WORDS = {
    webhooks.QUEUED: "Waiting to retry",
    webhooks.SENDING: "Being sent",
    webhooks.DELIVERED: "Delivered",
    webhooks.FAILED: "Failed",
}


# ---------------------------------------------------------------- cached reads


def endpoints(scope: Scope) -> list[webhooks.EndpointPublic]:
    return _endpoints(str(scope.organization_id), scope)


@st.cache_data(ttl=5, show_spinner=False)
def _endpoints(organization_id: str, _scope: Scope) -> list[webhooks.EndpointPublic]:
    return webhooks.list_endpoints(_scope)


def deliveries(scope: Scope, endpoint_id: str) -> list[webhooks.DeliveryView]:
    return _deliveries(str(scope.organization_id), endpoint_id, scope)


@st.cache_data(ttl=5, show_spinner=False)
def _deliveries(organization_id: str, endpoint_id: str, _scope: Scope) -> list[webhooks.DeliveryView]:
    return webhooks.list_deliveries(_scope, endpoint_id, limit=LOG_ROWS)


# ---------------------------------------------------------------- registering


def register_form(scope: Scope) -> None:
    """The form that registers an endpoint; the secret is shown once after it."""
    ui.show_secret(SECRET)
    with st.form("webhooks_register", clear_on_submit=False):
        url = st.text_input(
            "Endpoint URL",
            key="webhooks_url",
            placeholder="https://hooks.example.com/hiremate",
            help="https only; http only for a receiver on this machine (127.0.0.1, localhost, [::1]).",
        )
        st.markdown("**Events**")
        chosen = {
            name: st.checkbox(f"{name}: {description}", value=True, key=f"webhooks_event_{name}")
            for name, description in webhooks.EVENT_TYPES.items()
        }
        submitted = st.form_submit_button("Register endpoint", type="primary", icon=":material/add_link:")
    if submitted:
        events = [name for name, on in chosen.items() if on]
        if not events:
            st.error("Choose at least one event.", icon=":material/block:")
            return
        with ui.refusals():
            endpoint, secret = webhooks.add_endpoint(scope, url, events)
            ui.invalidate_reads()
            ui.remember_secret(
                SECRET,
                secret,
                title="The signing secret of the new endpoint",
                note="Your receiver verifies every delivery's webhook-signature with it.",
            )
            ui.flash(FLASH, f"Endpoint registered for {ui.count_noun(len(endpoint.events), 'event')}.")
            st.rerun()


# ---------------------------------------------------------------- the list


def endpoints_section(scope: Scope) -> None:
    ui.show_flash(FLASH)
    with session.database_guard():
        listed = endpoints(scope)
    if not listed:
        st.info("No endpoints yet: register one above to have HireMate notify your other systems.")
        return
    zone = ui.organization_zone()
    for endpoint in listed:
        _endpoint(scope, endpoint, zone)


def _endpoint(scope: Scope, endpoint: webhooks.EndpointPublic, zone: Any) -> None:
    key = f"webhooks_{endpoint.id}"
    with st.container(border=True):
        state = "Enabled" if endpoint.enabled else "Paused"
        st.markdown(f"**{state}** endpoint")
        st.code(endpoint.url, language=None, wrap_lines=True)  # as text: never a link to click
        st.markdown(
            "Events: "
            + ", ".join(f"`{name}`" for name in endpoint.events)
            + f" · registered {ui.format_time(endpoint.created_at, zone)}"
        )
        with session.database_guard():
            log = deliveries(scope, endpoint.id)
        if log:
            st.table([_row(view, zone) for view in log])
            _redeliver(scope, log, key)
        else:
            st.markdown("No deliveries yet.")
        columns = st.columns(3)
        label, icon = ("Pause", ":material/pause:") if endpoint.enabled else ("Resume", ":material/play_arrow:")
        if columns[0].button(label, key=f"{key}_toggle", icon=icon):
            with ui.refusals():
                webhooks.set_enabled(scope, endpoint.id, not endpoint.enabled)
                ui.invalidate_reads()
                st.rerun()
        if columns[1].button("New secret", key=f"{key}_rotate", icon=":material/key:"):
            with ui.refusals():
                secret = webhooks.rotate_secret(scope, endpoint.id)
                ui.invalidate_reads()
                ui.remember_secret(
                    SECRET, secret, title="The new signing secret", note="The old secret no longer signs anything."
                )
                st.rerun()
        confirm = columns[2].checkbox("Confirm removal", key=f"{key}_confirm")
        if columns[2].button("Remove", key=f"{key}_remove", icon=":material/delete:", disabled=not confirm):
            with ui.refusals():
                removed = webhooks.remove_endpoint(scope, endpoint.id)
                ui.invalidate_reads()
                ui.flash(FLASH, f"Endpoint removed with {ui.count_noun(removed, 'delivery', 'deliveries')}.")
                st.rerun()


def _row(view: webhooks.DeliveryView, zone: Any) -> dict[str, Any]:
    last = view.log[-1] if view.log else None
    return {
        "Time": ui.format_time(view.created_at, zone),
        "Event": view.event_type,
        "Status": STATUS_WORDS.get(view.status, view.status),
        "Response": str(view.last_code) if view.last_code is not None else (view.last_error or "—"),
        "Tries": view.tries,
        "Last try": ui.format_time(last.at, zone) if last else "—",
        "Next try": ui.format_time(view.next_attempt_at, zone) if view.next_attempt_at else "—",
        "Delivery id": str(view.id),
    }


def _redeliver(scope: Scope, log: list[webhooks.DeliveryView], key: str) -> None:
    choices = {str(view.id): view for view in log}
    columns = st.columns([3, 1], vertical_alignment="bottom")
    chosen = columns[0].selectbox(
        "Delivery to send again",
        list(choices),
        format_func=lambda oid: f"{choices[oid].event_type} · {STATUS_WORDS.get(choices[oid].status)} · {oid}",
        key=f"{key}_delivery",
    )
    if columns[1].button("Redeliver", key=f"{key}_redeliver", icon=":material/replay:"):
        with ui.refusals():
            webhooks.redeliver(scope, chosen)
            ui.invalidate_reads()
            ui.flash(FLASH, "Sent again within a few seconds, with the same webhook-id.")
            st.rerun()
