"""HireMate's recruiter app: the router.

Every page is registered always (a deep link never hits "Page not found");
the gate is here: logged out, the login form shows instead of the page; a
user whose password an admin reset chooses a new one first; and an
admin-only page shows a notice to recruiters. The sidebar lists only the
pages the user may open. Serve it with `streamlit run asgi.py` (which adds
the cookie routes that keep a login across reloads).

To add a page: put its file in app_pages/ and its spec in PAGES. A spec
whose file is missing stops the app at start-up with an error naming the
file (a typo or a deleted page never just vanishes from the sidebar).

The folder must not be called `pages/`: next to the main script that name
switches on Streamlit's older multipage mode, which runs a deep-linked page
file directly, without this gate, until the first visit to "/" (seen in
Chromium with streamlit 1.67), and breaks AppTest reruns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from hiremate import auth
from hiremate.models import Role, User
from recruiter import account, session, ui

ROOT = Path(__file__).parent


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    role: Role = Role.RECRUITER  # the least role that may open it (admins open all)


PAGES = [
    PageSpec("app_pages/dashboard.py", "Dashboard", ":material/dashboard:"),
    PageSpec("app_pages/tasks.py", "Tasks", ":material/checklist:"),
    PageSpec("app_pages/assessments.py", "Assessments", ":material/send:"),
    PageSpec("app_pages/bulk_issue.py", "Bulk issue", ":material/group_add:"),
    PageSpec("app_pages/live.py", "Live", ":material/sensors:"),
    PageSpec("app_pages/candidates.py", "Candidates", ":material/groups:"),
    PageSpec("app_pages/profile.py", "Profile", ":material/person_search:"),
    PageSpec("app_pages/compare.py", "Compare", ":material/compare_arrows:"),
    PageSpec("app_pages/exports.py", "Exports", ":material/download:"),
    PageSpec("app_pages/team.py", "Team", ":material/admin_panel_settings:", Role.ADMIN),
    PageSpec("app_pages/organization.py", "Organisation", ":material/domain:", Role.ADMIN),
    PageSpec("app_pages/audit.py", "Audit log", ":material/policy:", Role.ADMIN),
    PageSpec("app_pages/api_keys.py", "API keys", ":material/key:", Role.ADMIN),
    PageSpec("app_pages/webhooks.py", "Webhooks", ":material/webhook:", Role.ADMIN),
    PageSpec("app_pages/impact.py", "Impact report", ":material/balance:", Role.ADMIN),
    PageSpec("app_pages/account.py", "Account", ":material/manage_accounts:"),
]


def _may_open(user: User, spec: PageSpec) -> bool:
    return spec.role == Role.RECRUITER or user.role == Role.ADMIN


def _register_pages() -> dict[str, tuple[StreamlitPage, PageSpec]]:
    """url path -> (page, spec) for every spec; the first is the default.
    Raises FileNotFoundError, naming them, when files of specs are missing."""
    missing = [spec.file for spec in PAGES if not (ROOT / spec.file).is_file()]
    if missing:
        raise FileNotFoundError(f"app.py lists pages whose files do not exist in {ROOT}: {', '.join(missing)}")
    registered = {}
    for index, spec in enumerate(PAGES):
        page = st.Page(spec.file, title=spec.title, icon=spec.icon, default=index == 0)
        registered[page.url_path] = (page, spec)
    return registered


# ---------------------------------------------------------------- logged out


def _show_auth_forms() -> None:
    session.prepare_login()  # a login nonce in this browser first (may reload the page)
    st.title("HireMate")
    st.caption("Behaviour-based skill observation for hiring")
    login, create, join = st.tabs(["Log in", "Create an organisation", "Join with an invitation"])
    with login:
        _login_form()
    with create:
        _register_form(with_invitation=False)
    with join:
        _register_form(with_invitation=True)


def _login_form() -> None:
    with st.form("login_form"):
        email = st.text_input("Email", key="login_email", autocomplete="email")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary", key="login_submit")
    if submitted:
        with ui.refusals(as_written=True):
            user = auth.authenticate(
                session.database(),
                email,
                password,
                client_key=session.client_key(),
                device=session.device_token(),
            )
            session.log_in(user)


def _register_form(*, with_invitation: bool) -> None:
    prefix = "join" if with_invitation else "register"
    with st.form(f"{prefix}_form"):
        if with_invitation:
            token = st.text_input("Invitation token", key="join_token", type="password")
        else:
            organization = st.text_input("Organisation name", key="register_organization")
        full_name = st.text_input("Full name", key=f"{prefix}_full_name", autocomplete="name")
        email = st.text_input("Email", key=f"{prefix}_email", autocomplete="email")
        password = st.text_input(
            "Password",
            type="password",
            key=f"{prefix}_password",
            autocomplete="new-password",
            help=auth.PASSWORD_RULE,
        )
        label = "Join" if with_invitation else "Create organisation"
        submitted = st.form_submit_button(label, type="primary", key=f"{prefix}_submit")
    if submitted:
        with ui.refusals(as_written=True):
            user = auth.register(
                session.database(),
                email=email,
                full_name=full_name,
                password=password,
                organization_name=None if with_invitation else organization,
                invitation_token=token if with_invitation else None,
                client_key=session.client_key(),
            )
            session.log_in(user)


# ---------------------------------------------------------------- logged in


def _choose_new_password(user: User) -> None:
    """After an admin's reset (they know the password): a password of the
    user's own before anything else."""
    st.title("Choose a new password")
    st.info(
        "An admin of your organisation has reset your password. Choose your own before you continue: "
        "type the one you were given as the current password.",
        icon=":material/lock_reset:",
    )
    if account.change_password_form(user, key="forced_password", submit_label="Set my password"):
        st.rerun()
    if st.button("Log out", key="forced_logout", icon=":material/logout:"):
        session.log_out()


def _sidebar(user: User, registered: dict[str, tuple[StreamlitPage, PageSpec]]) -> None:
    with st.sidebar:
        for page, spec in registered.values():
            if _may_open(user, spec):
                st.page_link(page)
        st.divider()
        st.caption(f"Signed in as **{session.escape_markdown(user.full_name)}** · {user.role}")
        if st.button("Log out", key="nav_logout", icon=":material/logout:"):
            session.log_out()


def main() -> None:
    # An emoji icon is drawn as a data: SVG; a :material: one would load from Google.
    st.set_page_config(page_title="HireMate", page_icon="🧩", layout="wide")
    registered = _register_pages()
    current = st.navigation([page for page, _ in registered.values()], position="hidden")
    user = session.current_user()
    if user is None:
        _show_auth_forms()
        st.stop()
    if user.must_change_password:
        _choose_new_password(user)
        st.stop()
    st.session_state[ui.ORG_ZONE_KEY] = str(user.organization_id)  # times in the organisation's zone
    _sidebar(user, registered)
    _, spec = registered[current.url_path]
    if not _may_open(user, spec):
        st.warning(f"The {spec.title} page is for admins of your organisation.")
        st.stop()
    current.run()


main()
