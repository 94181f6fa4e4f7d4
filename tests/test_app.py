"""The recruiter app's router and login gate: AppTest for the script, a real
`streamlit run asgi.py` for the cookie routes, Chromium for a reload."""

from __future__ import annotations

import contextlib
import http.client
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo.database import Database
from streamlit.testing.v1 import AppTest

from hiremate import auth, throttle
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.models import User
from recruiter import session
from tests.conftest import free_port
from tests.support.chromium import launch, require_chromium
from tests.support.forwarding_proxy import forwarding_proxy
from tests.support.stack import RunningApp, serve_app

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-7"
SIGNED_IN = "Signed in as"


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)


def new_app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=15).run()


def page_text(at: AppTest) -> str:
    """The page's markdown and captions (the sidebar's "Signed in as" among them)."""
    return "\n".join(str(m.value) for m in (*at.markdown, *at.caption))


def fill(at: AppTest, **values: str) -> None:
    for key, value in values.items():
        at.text_input(key=key).input(value)


def log_in(at: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    fill(at, login_email=email, login_password=password)
    return at.button(key="login_submit").click().run()


def make_admin(db: Database) -> User:
    return auth.register(db, email="ada@acme.test", full_name="Ada Admin", password=PASSWORD, organization_name="Acme")


def assert_logged_out(at: AppTest) -> None:
    assert not at.exception
    assert at.text_input(key="login_email") is not None
    assert SIGNED_IN not in page_text(at)
    assert not at.sidebar.button


# ---------------------------------------------------------------- AppTest


def register(at, organization: str, full_name: str, password: str, email: str = "ada@acme.test") -> None:
    """Fill the register form and submit it."""
    fill(
        at,
        register_organization=organization,
        register_full_name=full_name,
        register_email=email,
        register_password=password,
    )
    at.button(key="register_submit").click().run()


def test_registering_an_organisation_logs_in_as_its_admin(app_env, db):
    at = new_app()
    register(at, "Acme Hiring", "Ada Admin", PASSWORD)
    assert not at.exception
    assert "Signed in as **Ada Admin**" in page_text(at)
    assert "Signed in as **Ada Admin** · admin" in page_text(at) and "Acme Hiring" in page_text(at)
    assert db[dbmod.SESSIONS].count_documents({"ended_at": None}) == 1
    assert PASSWORD not in str({key: at.session_state[key] for key in at.session_state})


def test_weak_password_at_registration_is_explained(app_env, db):
    at = new_app()
    register(at, "Acme", "Ada", "x")
    assert not at.exception
    assert "at least 10 characters" in at.error[0].value
    assert db[dbmod.ORGANIZATIONS].count_documents({}) == 0


def test_joining_with_an_invitation(app_env, db):
    admin = make_admin(db)
    token = auth.invite(auth.scope_for(db, admin), "rita@acme.test")
    at = new_app()
    fill(at, join_token=token, join_full_name="Rita", join_email="rita@acme.test", join_password=PASSWORD)
    at.button(key="join_submit").click().run()
    assert not at.exception
    assert "Signed in as **Rita** · recruiter" in page_text(at) and "\nAcme\n" in page_text(at)


def test_login_then_logout(app_env, db):
    make_admin(db)
    at = log_in(new_app(), "ada@acme.test")
    assert not at.exception
    assert "Signed in as **Ada Admin**" in page_text(at)
    at.sidebar.button(key="nav_logout").click().run()
    assert_logged_out(at)
    assert db[dbmod.SESSIONS].count_documents({"ended_at": None}) == 0
    at.run()
    assert_logged_out(at)


def test_wrong_password_shows_a_message_not_a_traceback(app_env, db):
    make_admin(db)
    at = log_in(new_app(), "ada@acme.test", "not-the-password-1")
    assert not at.exception
    assert [e.value for e in at.error] == ["Email or password is incorrect"]
    assert_logged_out(at)


def test_repeated_failures_show_the_throttle(app_env, db):
    make_admin(db)
    at = new_app()
    for _ in range(throttle.FREE_FAILURES + 1):
        log_in(at, "ada@acme.test", "not-the-password-1")
    log_in(at, "ada@acme.test")
    assert not at.exception
    assert "Too many failed logins" in at.error[0].value
    assert_logged_out(at)


def test_deep_link_while_logged_out_shows_the_login(app_env, db):
    at = new_app()
    at.switch_page("app_pages/dashboard.py").run()
    assert_logged_out(at)
    assert not at.warning  # the gate stopped the run before the page's own check


def test_a_browser_without_a_login_nonce_is_sent_for_one_once(app_env, db, monkeypatch):
    """With the cookie routes, the forms wait for the nonce (the page is
    reloaded through /auth/begin); a browser that came back from there still
    without it refuses cookies: it gets the forms and a tab-only login, not a
    redirect loop."""
    monkeypatch.setenv(session.COOKIE_ROUTES_ENV, "1")
    first = new_app()
    assert not first.text_input and not first.exception  # on its way to /auth/begin
    back = AppTest.from_file(str(ROOT / "app.py"), default_timeout=15)
    back.query_params[session.BEGUN_PARAM] = "1"
    back.run()
    assert back.text_input(key="login_email") is not None
    assert "does not keep HireMate's cookies" in back.info[0].value
    make_admin(db)
    log_in(back, "ada@acme.test")
    assert SIGNED_IN in page_text(back)


def test_deactivated_user_is_logged_out_at_the_next_interaction(app_env, db):
    admin = make_admin(db)
    rita = auth.register(
        db,
        email="rita@acme.test",
        full_name="Rita",
        password=PASSWORD,
        invitation_token=auth.invite(auth.scope_for(db, admin), "rita@acme.test"),
    )
    at = log_in(new_app(), "rita@acme.test")
    assert SIGNED_IN in page_text(at)
    auth.set_active(auth.scope_for(db, admin), rita.id, False)
    at.run()
    assert_logged_out(at)


def test_an_idle_session_is_logged_out_and_reruns_do_not_write(app_env, db):
    make_admin(db)
    at = log_in(new_app(), "ada@acme.test")
    seen = db[dbmod.SESSIONS].find_one({})["last_seen_at"]
    for _ in range(3):
        at.run()
    assert SIGNED_IN in page_text(at)
    assert db[dbmod.SESSIONS].find_one({})["last_seen_at"] == seen  # not a write per rerun
    db[dbmod.SESSIONS].update_many({}, {"$set": {"last_seen_at": auth.utcnow() - timedelta(hours=9)}})
    at.run()
    assert_logged_out(at)


def test_unreachable_database_shows_a_message(app_env, monkeypatch):
    monkeypatch.setenv("HIREMATE_MONGODB_URI", f"mongodb://127.0.0.1:{free_port()}/")
    settingsmod.get_settings.cache_clear()
    dbmod.reset_client()
    at = log_in(new_app(), "ada@acme.test")  # waits out the client's 5 s server selection
    assert not at.exception
    assert "database does not answer" in at.error[0].value


def app_beside(folder: Path, pages: list[str]) -> AppTest:
    """This app.py, run from ``folder`` with only ``pages`` (empty files) in its app_pages/."""
    (folder / "app_pages").mkdir()
    for name in pages:
        (folder / "app_pages" / name).touch()
    (folder / "app.py").write_text((ROOT / "app.py").read_text())
    return AppTest.from_file(str(folder / "app.py"), default_timeout=15)


def page_files() -> list[str]:
    return sorted(path.name for path in (ROOT / "app_pages").glob("*.py"))


def test_a_missing_page_file_stops_the_app_at_start_up(tmp_path, caplog):
    at = app_beside(tmp_path, [name for name in page_files() if name not in ("compare.py", "team.py")]).run()
    assert len(at.exception) == 1  # the browser gets a redacted message (showErrorDetails = "none") ...
    assert not at.text_input and not at.markdown  # ... and nothing else ran
    # ... the server's log says what is wrong
    assert "FileNotFoundError: app.py lists pages whose files do not exist" in caplog.text
    assert "app_pages/compare.py, app_pages/team.py" in caplog.text


def test_the_same_app_beside_every_page_file_starts(app_env, tmp_path):
    at = app_beside(tmp_path, page_files()).run()
    assert not at.exception
    assert at.text_input(key="login_email") is not None


def test_every_page_file_is_registered(app_env, db):
    """Every file in app_pages/ is in an admin's sidebar (and the app
    started, so every page it registers exists)."""
    make_admin(db)
    at = log_in(new_app(), "ada@acme.test")
    assert not at.exception
    url_paths = [link.proto.page for link in at.sidebar.get("page_link")]  # an admin sees every page
    stems = {Path(name).stem for name in page_files()}
    assert url_paths.count("") == 1  # the default page, at /
    assert len(url_paths) == len(stems) and set(url_paths) - {""} < stems


def test_every_page_the_code_links_to_exists():
    """Links are plain st.page_link: a wrong path fails only when the link
    renders, so every page path written in the code is checked here."""
    sources = [ROOT / "app.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "recruiter").glob("*.py")]
    named = {path for source in sources for path in re.findall(r"app_pages/\w+\.py", source.read_text())}
    assert len(named) >= 10
    assert sorted(path for path in named if not (ROOT / path).is_file()) == []


def test_no_pages_directory_beside_the_router():
    # A `pages/` folder next to app.py switches Streamlit 1.67 into its old
    # multipage mode, in which a deep link runs that page without the gate.
    assert not (ROOT / "pages").exists(), "put Streamlit pages in app_pages/ (see app.py)"


# ---------------------------------------------------------------- a real server


Server = RunningApp


@pytest.fixture(scope="module")
def server(store_uri: str, mongo_client, tmp_path_factory) -> Iterator[Server]:
    yield from serve_app(store_uri, mongo_client, tmp_path_factory.mktemp("app-data"))


@pytest.fixture(scope="module")
def proxied_server(store_uri: str, mongo_client, tmp_path_factory) -> Iterator[Server]:
    """The app behind one trusted proxy (HIREMATE_TRUST_PROXY)."""
    yield from serve_app(store_uri, mongo_client, tmp_path_factory.mktemp("app-data"), HIREMATE_TRUST_PROXY="1")


def _server_user(server: Server, email: str) -> User:
    existing = server.db[dbmod.USERS].find_one({"email": email})
    if existing:
        return User.from_doc(existing)
    return auth.register(server.db, email=email, full_name="Ada Admin", password=PASSWORD, organization_name=email)


def _unsealed(value: str) -> str:
    return value.rpartition(".")[0]


class Jar:
    """One browser's cookies, over plain HTTP: what it sends and what the
    server set (a cookie deleted with Max-Age=0 is dropped)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self.server.url.removeprefix("http://"), timeout=10)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection.request(method, path, headers=sent)
        response = connection.getresponse()
        response.body = response.read()
        connection.close()
        self.set_cookies = response.headers.get_all("Set-Cookie") or []
        for header in self.set_cookies:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def attributes(self, name: str) -> set[str]:
        [header] = [h for h in self.set_cookies if h.startswith(f"{name}=")]
        return {part.strip().lower() for part in header.split(";")[1:]}

    def session_token(self) -> str | None:
        value = self.cookies.get("hiremate_session")
        return _unsealed(value) if value else None

    def visit(self) -> Jar:
        """Open the app logged out: the gate sends the browser to the begin route first."""
        response = self.request("GET", "/auth/begin?next=%2Fassessments")
        assert response.status == 303 and response.getheader("Location") == "/assessments?hm_login=1"
        assert {"httponly", "samesite=strict", "path=/"} <= self.attributes("hiremate_login")
        return self

    def log_in_form(self, user: User) -> str:
        """What the login form does for this browser (recruiter.session.log_in):
        a session bound to the login nonce the form saw in its cookies."""
        nonce = _unsealed(self.cookies["hiremate_login"])
        return auth.start_session(self.server.db, user, days=1, handover=nonce, next_path="/assessments")


def test_the_hand_over_gives_a_fresh_session_to_the_browser_that_logged_in(server):
    user = _server_user(server, "route@acme.test")
    browser = Jar(server).visit()
    tab_token = browser.log_in_form(user)

    page = browser.request("GET", "/auth/session")  # where the form sends the browser: a page that POSTs
    assert page.status == 200 and b'method="post" action="/auth/session"' in page.body
    assert "hiremate_session" not in browser.cookies  # a GET changes nothing
    response = browser.request("POST", "/auth/session", {"Sec-Fetch-Site": "same-origin"})

    assert response.status == 303 and response.getheader("Location") == "/assessments"
    assert {"httponly", "samesite=lax", "path=/", f"max-age={7 * 86400}"} <= browser.attributes("hiremate_session")
    assert {"httponly", "samesite=strict"} <= browser.attributes("hiremate_device")
    assert "hiremate_login" not in browser.cookies  # the nonce is used up
    cookie_token = browser.session_token()
    # A fresh session id at login: the token the form held opens nothing any more.
    assert cookie_token != tab_token
    assert auth.user_for_session(server.db, cookie_token).id == user.id
    assert auth.user_for_session(server.db, tab_token) is None
    again = browser.request("POST", "/auth/session")  # once only
    assert again.status == 303 and again.getheader("Location") == "/" and not browser.set_cookies


def test_a_hand_over_started_in_one_browser_does_nothing_in_another(server):
    """The hijack: an attacker logs in, and instead of finishing the hand-over
    makes the victim's browser do it (a link, a cross-site form). Before, the
    hand-over was GET /auth/session?code=<token> and worked in any browser:
    the victim then worked inside the attacker's account."""
    attacker_account = _server_user(server, "attacker@evil.test")
    attacker, victim = Jar(server).visit(), Jar(server).visit()
    token = attacker.log_in_form(attacker_account)

    # The old link, opened by the victim's browser: only the page that POSTs ...
    victim.request("GET", f"/auth/session?code={token}&next=/")
    # ... whose POST carries the victim's own nonce cookie, not the attacker's.
    refused = victim.request("POST", "/auth/session", {"Sec-Fetch-Site": "same-origin"})
    assert refused.status == 303 and refused.getheader("Location") == "/"
    assert "hiremate_session" not in victim.cookies and not victim.set_cookies
    # A cross-site form post is refused before anything is looked at.
    cross = victim.request("POST", "/auth/session", {"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403 and "hiremate_session" not in victim.cookies
    # The attacker's own browser still can (the binding, not a broken route).
    attacker.request("POST", "/auth/session", {"Sec-Fetch-Site": "same-origin"})
    assert auth.user_for_session(server.db, attacker.session_token()).id == attacker_account.id


@pytest.mark.parametrize("next_path", ["//evil.test/x", "https://evil.test/", "/\\evil.test"])
def test_the_routes_never_redirect_off_site(server, next_path):
    browser = Jar(server)
    response = browser.request("GET", f"/auth/begin?next={urllib.parse.quote(next_path)}")
    assert response.status == 303 and response.getheader("Location") == "/?hm_login=1"
    user = _server_user(server, "offsite@acme.test")
    auth.start_session(
        server.db, user, days=1, handover=_unsealed(browser.cookies["hiremate_login"]), next_path=next_path
    )
    handed = browser.request("POST", "/auth/session")
    assert handed.status == 303 and handed.getheader("Location") == "/"


def _logged_in(server: Server, email: str) -> Jar:
    browser = Jar(server).visit()
    browser.log_in_form(_server_user(server, email))
    browser.request("POST", "/auth/session")
    assert browser.session_token()
    return browser


def test_a_get_to_signout_logs_no_one_out(server):
    """Found attacking the stack: logout was a GET, so any page (an image, a
    link) could log a recruiter out. A GET now only clears a dead cookie."""
    browser = _logged_in(server, "getout@acme.test")
    token = browser.session_token()
    response = browser.request("GET", "/auth/signout")
    assert response.status == 303 and response.getheader("Location") == "/"
    assert auth.session_is_live(server.db, token) and browser.session_token() == token
    cross = browser.request("POST", "/auth/signout", {"Sec-Fetch-Site": "cross-site"})
    assert cross.status == 403 and auth.session_is_live(server.db, token)

    signed_out = browser.request("POST", "/auth/signout", {"Sec-Fetch-Site": "same-origin"})
    assert signed_out.status == 303 and signed_out.getheader("Location") == "/"
    assert not auth.session_is_live(server.db, token) and browser.session_token() is None
    assert "hiremate_login" in browser.cookies  # ready for the next login


def test_a_get_to_signout_clears_a_cookie_whose_session_has_ended(server):
    """What the app's Log out button does: end the session, then send the browser here."""
    browser = _logged_in(server, "button@acme.test")
    auth.end_session(server.db, browser.session_token())
    browser.request("GET", "/auth/signout")
    assert browser.session_token() is None and "hiremate_login" in browser.cookies


def test_a_forged_cookie_signs_nobody_out(server):
    user = _server_user(server, "forged@acme.test")
    token = auth.start_session(server.db, user, days=1)
    browser = Jar(server)
    browser.cookies["hiremate_session"] = f"{token}.not-the-signature"
    browser.request("POST", "/auth/signout")
    assert auth.user_for_session(server.db, token).id == user.id


@pytest.mark.e2e
def test_a_reload_keeps_the_login_until_logout(server):
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    _server_user(server, "browser@acme.test")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(server.url)
            page.get_by_label("Email").first.fill("browser@acme.test")
            page.get_by_label("Password").first.fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["hiremate_session"]["httpOnly"] is True
            assert "code=" not in page.url  # the hand-over URL is not left in the address bar

            page.reload()
            expect(page.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)

            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
            assert "hiremate_session" not in {c["name"] for c in context.cookies()}
            page.reload()
            expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
            expect(page.get_by_text(SIGNED_IN)).to_have_count(0)
        finally:
            browser.close()


@pytest.mark.e2e
def test_a_spoofed_left_most_forwarded_for_does_not_make_a_new_client(proxied_server):
    """The attack: behind the proxy, an attacker who has earned a delay sends
    another made-up address at the left of X-Forwarded-For. Before, the app
    took the left-most entry, so each made-up address was a fresh client."""
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    server = proxied_server
    _server_user(server, "victim@acme.test")

    @contextlib.contextmanager
    def attempt(browser, forwarded: str, password: str):
        """One browser logging in through the trusted proxy, which forwards ``forwarded``."""
        with forwarding_proxy(server.port, forwarded) as url:
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            page.get_by_label("Email").first.fill("victim@acme.test")
            page.get_by_label("Password").first.fill(password)
            page.get_by_role("button", name="Log in").click()
            try:
                yield page
            finally:
                context.close()

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            with attempt(browser, "6.6.6.1, 203.0.113.7", "wrong-guess-123") as page:
                expect(page.get_by_text("Email or password is incorrect")).to_be_visible(timeout=20_000)
            [pair] = server.db[dbmod.LOGIN_THROTTLE].find({})
            # The attacker's accrued delay (earned over many failures; set here to save the time).
            server.db[dbmod.LOGIN_THROTTLE].update_one(
                {"_id": pair["_id"]}, {"$set": {"failures": 12, "locked_until": auth.utcnow() + timedelta(minutes=5)}}
            )

            with attempt(browser, "6.6.6.2, 203.0.113.7", PASSWORD) as page:  # another made-up left-most entry
                expect(page.get_by_text("Too many failed logins")).to_be_visible(timeout=20_000)
            assert server.db[dbmod.LOGIN_THROTTLE].count_documents({}) == 1  # still the one client

            with attempt(browser, "6.6.6.2, 198.51.100.9", PASSWORD) as page:  # the owner, elsewhere
                expect(page.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)
        finally:
            browser.close()


@pytest.mark.e2e
def test_a_hand_over_from_one_browser_opened_in_another_is_refused(server):
    """The hijack in two real browsers: the attacker logs in, stops his
    browser before it takes the session over, and has the victim's browser
    make that request instead (a link to it). The victim must stay logged
    out, not end up working in the attacker's account."""
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    _server_user(server, "mallory@evil.test")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            attacker_context, victim_context = browser.new_context(), browser.new_context()
            attacker = attacker_context.new_page()
            captured: list[str] = []

            def hold_the_hand_over(route) -> None:
                request = route.request
                # The request that takes the session over: the old GET with the
                # token in its URL, or the POST now.
                if request.method == "POST" or "code=" in request.url:
                    captured.append(request.url)
                    route.abort()
                else:
                    route.continue_()

            attacker.route("**/auth/session*", hold_the_hand_over)
            attacker.goto(server.url)
            attacker.get_by_label("Email").first.fill("mallory@evil.test")
            attacker.get_by_label("Password").first.fill(PASSWORD)
            attacker.get_by_role("button", name="Log in").click()
            deadline = time.monotonic() + 20
            while not captured and time.monotonic() < deadline:
                attacker.wait_for_timeout(100)
            assert captured, "the attacker's browser never asked for the hand-over"

            victim = victim_context.new_page()
            victim.goto(server.url)
            expect(victim.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
            victim.goto(captured[0])  # the victim opens the attacker's hand-over
            victim.goto(server.url)
            expect(victim.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)
            expect(victim.get_by_text(SIGNED_IN)).to_have_count(0)
            assert "hiremate_session" not in {c["name"] for c in victim_context.cookies()}

            # In the attacker's own browser the same hand-over still works.
            attacker.unroute("**/auth/session*")
            attacker.goto(captured[0])
            expect(attacker.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)
        finally:
            browser.close()


@pytest.mark.e2e
def test_the_owner_gets_in_from_their_own_browser_behind_the_attackers_address(proxied_server):
    """Attacker and owner share an address (an office NAT): the attacker's
    failures delay that address for the account, but the owner's browser,
    which logged in before, holds a device token and is a client of its own."""
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    server = proxied_server
    _server_user(server, "owner@office.test")

    def log_in_page(page, password: str) -> None:
        page.goto(office)
        page.get_by_label("Email").first.fill("owner@office.test")
        page.get_by_label("Password").first.fill(password)
        page.get_by_role("button", name="Log in").click()

    with sync_playwright() as playwright, forwarding_proxy(server.port, "203.0.113.50") as office:
        browser = launch(playwright)
        try:
            owner_context = browser.new_context()
            owner = owner_context.new_page()
            log_in_page(owner, PASSWORD)
            expect(owner.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)
            owner.get_by_role("button", name="Log out").click()
            expect(owner.get_by_role("button", name="Log in")).to_be_visible(timeout=20_000)

            attacker_context = browser.new_context()
            attacker = attacker_context.new_page()
            log_in_page(attacker, "wrong-guess-123")
            expect(attacker.get_by_text("Email or password is incorrect")).to_be_visible(timeout=20_000)
            # The attacker's accrued delay on (account, office address).
            server.db[dbmod.LOGIN_THROTTLE].update_many(
                {"_id": {"$regex": r"\|ip:"}},
                {"$set": {"failures": 12, "locked_until": auth.utcnow() + timedelta(minutes=5)}},
            )
            log_in_page(attacker, PASSWORD)  # even the right password, from the attacker's browser
            expect(attacker.get_by_text("Too many failed logins")).to_be_visible(timeout=20_000)

            log_in_page(owner, PASSWORD)
            expect(owner.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)
        finally:
            browser.close()


@pytest.mark.e2e
def test_a_deep_link_from_another_site_logs_in_and_lands_on_its_page(server):
    """Arriving from elsewhere (a link in a mail: a cross-site navigation,
    which carries no SameSite=Strict cookie) at a page deep in the app: the
    login works, and afterwards the browser is on that page."""
    from playwright.sync_api import expect, sync_playwright

    require_chromium()
    _server_user(server, "deep@acme.test")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_context().new_page()
            page.set_content(f'<a id="mail" href="{server.url}/assessments">your assessments</a>')
            page.click("#mail")
            page.get_by_label("Email").first.fill("deep@acme.test")
            page.get_by_label("Password").first.fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Assessments", exact=True)).to_be_visible(timeout=20_000)
            assert urllib.parse.urlsplit(page.url).path == "/assessments"
            assert "hm_login" not in page.url
        finally:
            browser.close()
