"""The recruiter app's router and login gate: AppTest for the script, a real
`streamlit run asgi.py` for the cookie routes, Chromium for a reload."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pymongo.database import Database
from streamlit.testing.v1 import AppTest

from hiremate import auth, throttle
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.models import User
from tests.chromium import launch, require_chromium
from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-7"
SIGNED_IN = "Signed in as"


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)


def new_app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=15).run()


def page_text(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


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


def test_registering_an_organisation_logs_in_as_its_admin(app_env, db):
    at = new_app()
    fill(
        at,
        register_organization="Acme Hiring",
        register_full_name="Ada Admin",
        register_email="ada@acme.test",
        register_password=PASSWORD,
    )
    at.button(key="register_submit").click().run()
    assert not at.exception
    assert "Signed in as **Ada Admin**" in page_text(at)
    assert "admin of **Acme Hiring**" in page_text(at)
    assert db[dbmod.SESSIONS].count_documents({"ended_at": None}) == 1
    assert PASSWORD not in str({key: at.session_state[key] for key in at.session_state})


def test_weak_password_at_registration_is_explained(app_env, db):
    at = new_app()
    fill(
        at,
        register_organization="Acme",
        register_full_name="Ada",
        register_email="ada@acme.test",
        register_password="x",
    )
    at.button(key="register_submit").click().run()
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
    assert "recruiter of **Acme**" in page_text(at)


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
    at.switch_page("app_pages/home.py").run()
    assert_logged_out(at)
    assert not at.warning  # the gate stopped the run before the page's own check


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


@dataclass
class Server:
    url: str
    db: Database

    def get(self, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(self.url.removeprefix("http://"), timeout=10)
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response


def _serve(store_uri: str, mongo_client, data_dir: Path, **extra_env: str) -> Iterator[Server]:
    """`streamlit run asgi.py`, as the launcher starts it, on a free port."""
    db_name = f"t_{uuid.uuid4().hex[:12]}"
    database = mongo_client.get_database(db_name)
    dbmod.ensure_indexes(database)
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("HIREMATE_")}
    env |= {
        "HIREMATE_MONGODB_URI": store_uri,
        "HIREMATE_DB_NAME": db_name,
        "HIREMATE_SECRET": TEST_SECRET,
        "HIREMATE_DATA_DIR": str(data_dir),
        **extra_env,
    }
    command = [sys.executable, "-m", "streamlit", "run", "asgi.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{port}/_stcore/health", process)
        yield Server(f"http://127.0.0.1:{port}", database)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        mongo_client.drop_database(db_name)


@pytest.fixture(scope="module")
def server(store_uri: str, mongo_client, tmp_path_factory) -> Iterator[Server]:
    yield from _serve(store_uri, mongo_client, tmp_path_factory.mktemp("app-data"))


@pytest.fixture(scope="module")
def proxied_server(store_uri: str, mongo_client, tmp_path_factory) -> Iterator[Server]:
    """The app behind one trusted proxy (HIREMATE_TRUST_PROXY)."""
    yield from _serve(store_uri, mongo_client, tmp_path_factory.mktemp("app-data"), HIREMATE_TRUST_PROXY="1")


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"streamlit exited with code {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:.0f}s")


def _server_user(server: Server, email: str) -> User:
    existing = server.db[dbmod.USERS].find_one({"email": email})
    if existing:
        return User.from_doc(existing)
    return auth.register(server.db, email=email, full_name="Ada Admin", password=PASSWORD, organization_name=email)


def _cookie_token(set_cookie: str) -> str:
    value = set_cookie.split(";", 1)[0].split("=", 1)[1]
    return value.rpartition(".")[0]


def test_session_route_swaps_the_token_for_an_httponly_cookie(server):
    user = _server_user(server, "route@acme.test")
    token = auth.start_session(server.db, user, days=1)
    response = server.get(f"/auth/session?code={token}&next=/home")
    assert response.status == 303
    assert response.getheader("Location") == "/home"
    set_cookie = response.getheader("Set-Cookie")
    attributes = {part.strip().lower() for part in set_cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/", f"max-age={7 * 86400}"} <= attributes
    cookie_token = _cookie_token(set_cookie)
    assert auth.user_for_session(server.db, cookie_token).id == user.id
    assert auth.user_for_session(server.db, token) is None  # the URL's token is dead

    again = server.get(f"/auth/session?code={token}&next=/home")
    assert again.status == 303 and again.getheader("Set-Cookie") is None

    cookie = set_cookie.split(";", 1)[0]
    signed_out = server.get("/auth/signout", cookie=cookie)
    assert signed_out.status == 303 and signed_out.getheader("Location") == "/"
    assert 'hiremate_session=""' in signed_out.getheader("Set-Cookie")
    assert auth.user_for_session(server.db, cookie_token) is None


@pytest.mark.parametrize("next_path", ["//evil.test/x", "https://evil.test/", "/\\evil.test"])
def test_session_route_never_redirects_off_site(server, next_path):
    response = server.get(f"/auth/session?code=nothing&next={urllib.parse.quote(next_path)}")
    assert response.status == 303 and response.getheader("Location") == "/"
    assert response.getheader("Set-Cookie") is None


def test_a_forged_cookie_signs_nobody_out(server):
    user = _server_user(server, "forged@acme.test")
    token = auth.start_session(server.db, user, days=1)
    server.get("/auth/signout", cookie=f"hiremate_session={token}.not-the-signature")
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

    def attempt(browser, forwarded: str, password: str):
        context = browser.new_context(extra_http_headers={"X-Forwarded-For": forwarded})
        page = context.new_page()
        page.goto(server.url)
        page.get_by_label("Email").first.fill("victim@acme.test")
        page.get_by_label("Password").first.fill(password)
        page.get_by_role("button", name="Log in").click()
        return context, page

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context, page = attempt(browser, "6.6.6.1, 203.0.113.7", "wrong-guess-123")
            expect(page.get_by_text("Email or password is incorrect")).to_be_visible(timeout=20_000)
            context.close()
            [pair] = server.db[dbmod.LOGIN_THROTTLE].find({})
            # The attacker's accrued delay (earned over many failures; set here to save the time).
            server.db[dbmod.LOGIN_THROTTLE].update_one(
                {"_id": pair["_id"]}, {"$set": {"failures": 12, "locked_until": auth.utcnow() + timedelta(minutes=5)}}
            )

            context, page = attempt(browser, "6.6.6.2, 203.0.113.7", PASSWORD)  # another made-up left-most entry
            expect(page.get_by_text("Too many failed logins")).to_be_visible(timeout=20_000)
            context.close()
            assert server.db[dbmod.LOGIN_THROTTLE].count_documents({}) == 1  # still the one client

            context, page = attempt(browser, "6.6.6.2, 198.51.100.9", PASSWORD)  # the owner, elsewhere
            expect(page.get_by_text(SIGNED_IN)).to_be_visible(timeout=20_000)
            context.close()
        finally:
            browser.close()
