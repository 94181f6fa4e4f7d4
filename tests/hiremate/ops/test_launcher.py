"""`make run`'s start-up path, headless: the real store, ingest server and
Streamlit app come up, answer their health checks, hold the demo data, and
stop on Ctrl-C, twice in a row on the same data dir.

And what someone on the same network finds: every listening socket of the
stack bound to 127.0.0.1 (read from /proc/net/tcp and tcp6, and a connection
to the machine's own non-loopback address refused), a demo login whose
password is random per data folder (a data folder seeded with the formerly
published password gets the random one), no demo seeded with a Mongo URI or
HIREMATE_DEMO=0, and a data folder only its user can read."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hiremate import auth
from hiremate import db as dbmod
from hiremate.auth import AuthError
from hiremate.models import Role
from hiremate.ops import launcher
from hiremate.ops.demo import DEMO_EMAIL, DEMO_ORG_NAME, DEMO_ORG_SLUG, PUBLISHED_DEMO_PASSWORD
from hiremate.settings import Settings
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, free_port
from tests.support.stack import published_demo_admin

LOGIN_LINE = re.compile(r"^  demo login {6}(\S+@\S+) / (\S+)$", re.MULTILINE)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "hiremate.ops.launcher"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            return process, lines
    process.kill()
    pytest.fail("launcher did not become ready:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(60)


def _env(tmp_path: Path, ports: dict[str, int], **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HIREMATE_")}
    return env | {
        "HIREMATE_DATA_DIR": str(tmp_path / "data"),
        "HIREMATE_EMBEDDED_PORT": str(ports["store"]),
        "HIREMATE_INGEST_PORT": str(ports["ingest"]),
        "HIREMATE_APP_PORT": str(ports["app"]),
        **extra,
    }


# ---------------------------------------------------------------- who listens where


def _decode(address: str) -> str:
    """An address of /proc/net/tcp{,6} (hex, each 32-bit word in host order)."""
    raw = bytes.fromhex(address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, words)


def listening_addresses(port: int) -> set[str]:
    """Every local address a socket in LISTEN state holds ``port`` on, IPv4 and IPv6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as handle:
            next(handle)
            for row in handle:
                fields = row.split()
                address, hex_port = fields[1].split(":")
                if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    found.add(_decode(address))
    return found


def non_loopback_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_proc_net_tcp_decoding():
    if sys.byteorder == "little":
        assert _decode("0100007F") == "127.0.0.1"
        assert _decode("00000000000000000000000001000000") == "::1"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert listening_addresses(sock.getsockname()[1]) == {"127.0.0.1"}


def assert_only_this_machine_can_connect(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        assert listening_addresses(port) == {"127.0.0.1"}, f"the {name} listens on {listening_addresses(port)}"
    outside = non_loopback_address()
    if outside is None:
        return  # no network besides loopback: the /proc check above is the whole proof
    for name, port in ports.items():
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.settimeout(3)
            sock.connect((outside, port))
            pytest.fail(f"the {name} answered on {outside}:{port}")


def assert_private(data_dir: Path) -> None:
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for folder, dirs, files in os.walk(data_dir):
        for name in dirs + files:
            path = Path(folder) / name
            mode = stat.S_IMODE(path.lstat().st_mode)
            assert not mode & 0o077, f"{path} is {oct(mode)}: readable beyond its user"


# ---------------------------------------------------------------- the start-up path


def _seed_as_before(data_dir: Path, port: int) -> None:
    """A data folder as every earlier `make run` left it: the demo admin with
    the password the README published."""
    store = dbmod.start_embedded_store(data_dir / "db", port, log_path=data_dir / "secantusd.log")
    try:
        client = dbmod.make_client(f"mongodb://127.0.0.1:{port}/")
        db = client["hiremate"]
        dbmod.ensure_indexes(db)
        organization = auth.create_organization(db, DEMO_ORG_NAME, slug=DEMO_ORG_SLUG)
        published_demo_admin(db, organization.id)
        client.close()
    finally:
        store.stop()


@pytest.mark.slow
def test_make_run_start_up_path(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("store", "ingest", "app")}
    env = _env(tmp_path, ports)
    _seed_as_before(tmp_path / "data", ports["store"])
    counts, logins = [], []
    for start in range(2):
        process, lines = _start(env)
        try:
            output = "".join(lines)
            assert f"http://localhost:{ports['app']}" in output
            assert f"http://localhost:{ports['ingest']}" in output
            [(email, password)] = LOGIN_LINE.findall(output)
            logins.append((email, password))
            if start == 0:
                assert "published demo password replaced" in output
                assert_only_this_machine_can_connect(ports)
            status, body = _get(f"http://127.0.0.1:{ports['ingest']}/healthz")
            assert (status, json.loads(body)) == (200, {"status": "ok", "db": "ok"})
            status, body = _get(f"http://127.0.0.1:{ports['app']}/_stcore/health")
            assert status == 200
            client = dbmod.make_client(f"mongodb://127.0.0.1:{ports['store']}/", timeout_ms=3000)
            database = client["hiremate"]
            counts.append(
                (
                    database.organizations.count_documents({}),
                    database.users.count_documents({}),
                    database.tasks.count_documents({}),
                )
            )
            # The banner's login signs in; the published password no longer does.
            assert auth.authenticate(database, email, password).role == Role.ADMIN
            with pytest.raises(AuthError):
                auth.authenticate(database, DEMO_EMAIL, PUBLISHED_DEMO_PASSWORD)
            client.close()
        finally:
            assert _stop(process) == 0
        # everything it started is gone, the store included
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{ports['ingest']}/healthz", timeout=1)
    assert (tmp_path / "data" / "db").is_dir()
    assert counts[0] == counts[1], "a second start must not duplicate the demo data"
    assert counts[0][0] == 1 and counts[0][1] == 1 and counts[0][2] >= 15
    assert logins[0] == logins[1], "the demo password is the data folder's: the same at every start"
    assert logins[0][0] == DEMO_EMAIL and logins[0][1] != PUBLISHED_DEMO_PASSWORD
    assert (tmp_path / "data" / "demo-password").read_text() == logins[0][1]
    assert_private(tmp_path / "data")


@pytest.mark.slow
def test_no_demo_is_seeded_with_the_demo_switched_off(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("store", "ingest", "app")}
    process, lines = _start(_env(tmp_path, ports, HIREMATE_DEMO="0"))
    try:
        output = "".join(lines)
        assert not LOGIN_LINE.search(output)
        assert "demo login      not seeded (HIREMATE_DEMO=0); seed it with: python -m hiremate seed-demo" in output
        client = dbmod.make_client(f"mongodb://127.0.0.1:{ports['store']}/", timeout_ms=3000)
        assert client["hiremate"].users.count_documents({}) == 0
        assert client["hiremate"].organizations.count_documents({}) == 0
        client.close()
    finally:
        assert _stop(process) == 0
    assert not (tmp_path / "data" / "demo-password").exists()


@pytest.mark.slow
def test_no_demo_is_seeded_with_a_mongo_uri_and_a_published_password_is_retired(
    tmp_path: Path, store_uri: str, db, db_name: str
) -> None:
    ports = {"ingest": free_port(), "app": free_port()}
    env = _env(tmp_path, {"store": 1, **ports}, HIREMATE_MONGODB_URI=store_uri, HIREMATE_DB_NAME=db_name)
    env["HIREMATE_SECRET"] = TEST_SECRET
    env["HIREMATE_AUDIT_KEY"] = TEST_AUDIT_KEY
    # A deployment where someone once ran `seed-demo` with the published password.
    organization = auth.create_organization(db, "Acme", slug="acme")
    published_demo_admin(db, organization.id)
    process, lines = _start(env)
    try:
        output = "".join(lines)
        assert not LOGIN_LINE.search(output)
        assert "not seeded (HIREMATE_MONGODB_URI is set); seed it with: python -m hiremate seed-demo" in output
        assert "replaced by the one in" in output
        assert db.organizations.count_documents({}) == 1  # only Acme: no demo organisation
        with pytest.raises(AuthError):
            auth.authenticate(db, DEMO_EMAIL, PUBLISHED_DEMO_PASSWORD)
        password = (tmp_path / "data" / "demo-password").read_text()
        assert auth.authenticate(db, DEMO_EMAIL, password).organization_id == organization.id
        assert_only_this_machine_can_connect(ports)
    finally:
        assert _stop(process) == 0


# ---------------------------------------------------------------- pieces


def test_the_app_is_told_where_to_listen():
    command = launcher.app_command(Settings())
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    opened = launcher.app_command(Settings(app_host="0.0.0.0"))
    assert opened[opened.index("--server.address") + 1] == "0.0.0.0"
    assert launcher.probe_host("0.0.0.0") == "127.0.0.1"
    assert launcher.probe_host("::1") == "[::1]"


def test_the_banner_says_who_can_connect():
    assert "this machine only" in launcher.banner(Settings(), [])
    opened = launcher.banner(Settings(app_host="0.0.0.0"), [])
    assert "recruiter app on every interface, ingest server on 127.0.0.1" in opened


def test_streamlit_run_without_the_launcher_listens_on_loopback_too():
    config = (Path(__file__).resolve().parents[3] / ".streamlit" / "config.toml").read_text()
    server = config.split("[server]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^address = "127\.0\.0\.1"$', server, flags=re.MULTILINE)
