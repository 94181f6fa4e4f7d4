"""hiremate.settings: every HIREMATE_* variable, its default, its parsing and
the .env.example rendered from the one declaration.

tests/conftest.py removes ambient HIREMATE_* variables before each test."""

from __future__ import annotations

import re
import stat
import warnings
from pathlib import Path

import pytest

from hiremate import settings as settingsmod
from hiremate.settings import ConfigError, IngestLimits, Settings, env_example, env_name, get_settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
LONG_SECRET = "s3cret-" + "x" * 25  # 32 characters: the shortest accepted

# The contract (docs/architecture.md's configuration table and .env.example):
# variable -> (field, default). None: unset by default.
DEFAULTS = {
    "HIREMATE_MONGODB_URI": ("mongodb_uri", None),
    "HIREMATE_DB_NAME": ("db_name", "hiremate"),
    "HIREMATE_DATA_DIR": ("data_dir", Path("./data").resolve()),
    "HIREMATE_EMBEDDED_PORT": ("embedded_port", 27018),
    "HIREMATE_EMBEDDED_SYNC_ON_COMMIT": ("embedded_sync_on_commit", True),
    "HIREMATE_SECRET": ("secret_from_env", None),
    "HIREMATE_AUDIT_KEY": ("audit_key_from_env", None),
    "HIREMATE_INGEST_HOST": ("ingest_host", "127.0.0.1"),
    "HIREMATE_INGEST_PORT": ("ingest_port", 8765),
    "HIREMATE_PUBLIC_URL": ("public_url", "http://localhost:8765"),
    "HIREMATE_TRUST_PROXY": ("trust_proxy", False),
    "HIREMATE_APP_HOST": ("app_host", "127.0.0.1"),
    "HIREMATE_PROXY_HOPS": ("proxy_hops", 1),
    "HIREMATE_APP_PORT": ("app_port", 8501),
    "HIREMATE_DEMO": ("demo", True),
    "HIREMATE_SESSION_DAYS": ("session_days", 7),
    "HIREMATE_SESSION_IDLE_HOURS": ("session_idle_hours", 8),
    "HIREMATE_TOKEN_EXPIRY_DAYS": ("token_expiry_days", 7),
    "HIREMATE_IN_PROGRESS_GRACE_HOURS": ("in_progress_grace_hours", 24),
    "HIREMATE_MAX_FRAME_BYTES": ("max_frame_bytes", 65536),
    "HIREMATE_MAX_BATCH_EVENTS": ("max_batch_events", 500),
    "HIREMATE_MAX_BATCH_BYTES": ("max_batch_bytes", 49152),
    "HIREMATE_RATE_EVENTS_PER_SECOND": ("events_per_second", 50.0),
    "HIREMATE_RATE_BURST": ("event_burst", 200),
    "HIREMATE_CONNECTIONS_PER_MINUTE": ("connections_per_minute", 30),
    "HIREMATE_PING_INTERVAL_SECONDS": ("ping_interval_seconds", 20.0),
    "HIREMATE_PEER_TIMEOUT_SECONDS": ("peer_timeout_seconds", 60.0),
    "HIREMATE_LIVE_QUEUE_SIZE": ("live_queue_size", 1000),
    "HIREMATE_MAX_SOCKETS_PER_ADDRESS": ("max_sockets_per_address", 20),
    "HIREMATE_FIRST_MESSAGE_TIMEOUT_SECONDS": ("first_message_timeout_seconds", 15.0),
    "HIREMATE_IDLE_TIMEOUT_SECONDS": ("idle_timeout_seconds", 120.0),
    "HIREMATE_MAX_UNREAD_BYTES": ("max_unread_bytes", 262144),
    "HIREMATE_MAX_UNANSWERED_MESSAGES": ("max_unanswered_messages", 1000),
    "HIREMATE_PAGE_REQUESTS_PER_MINUTE": ("page_requests_per_minute", 60),
    "HIREMATE_LIVE_CONNECTIONS_PER_MINUTE": ("live_connections_per_minute", 30),
    "HIREMATE_LIVE_SOCKETS_PER_TICKET": ("live_sockets_per_ticket", 3),
    "HIREMATE_LIVE_RECHECK_SECONDS": ("live_recheck_seconds", 30.0),
    "HIREMATE_GROUP_COMMIT_MS": ("group_commit_ms", 0.0),
    "HIREMATE_SMTP_URL": ("smtp_url", None),
    "HIREMATE_SMTP_REQUIRE_TLS": ("smtp_require_tls", False),
    "HIREMATE_MAIL_FROM": ("mail_from", None),
    "HIREMATE_APP_URL": ("app_url", "http://localhost:8501"),
    "HIREMATE_API_REQUESTS_PER_MINUTE": ("api_requests_per_minute", 300),
    "HIREMATE_API_BURST": ("api_burst", 60),
    "HIREMATE_WEBHOOK_ALLOW_PRIVATE": ("webhook_allow_private", False),
    "HIREMATE_GREENHOUSE_PATCH_HEADERS": ("greenhouse_patch_headers", "{}"),
    "HIREMATE_GREENHOUSE_PATCH_BODY": (
        "greenhouse_patch_body",
        '{"partner_interview_id": "{partner_interview_id}", "partner_status": "complete", '
        '"partner_profile_url": "{partner_profile_url}"}',
    ),
}


@pytest.fixture(autouse=True)
def _fresh_process_settings(monkeypatch):
    monkeypatch.delenv("HIREMATE_AUDIT_KEY")  # conftest sets the tests' own; here: a bare environment
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# ---------------------------------------------------------------- defaults


def test_every_variable_and_its_default():
    settings = load_settings()
    assert {env_name(field): field for field in Settings.model_fields} == {
        name: field for name, (field, _) in DEFAULTS.items()
    }
    for name, (field, default) in DEFAULTS.items():
        assert getattr(settings, field) == default, name


def test_derived_defaults():
    settings = load_settings()
    assert settings.uses_embedded_store
    assert settings.mongo_uri == "mongodb://127.0.0.1:27018/"
    assert settings.data_dir.is_absolute()
    assert settings.limits == IngestLimits()


def test_limits_are_the_limit_settings():
    settings = Settings(event_burst=5, live_queue_size=3)
    assert settings.limits == IngestLimits(event_burst=5, live_queue_size=3)
    assert settings.model_copy(update={"max_frame_bytes": 10}).limits.max_frame_bytes == 10


# ---------------------------------------------------------------- the environment


def test_environment_overrides_with_types(monkeypatch, tmp_path):
    values = {
        "HIREMATE_MONGODB_URI": "mongodb://db.example:27017/",
        "HIREMATE_SECRET": LONG_SECRET,
        "HIREMATE_AUDIT_KEY": "a" + LONG_SECRET,
        "HIREMATE_DB_NAME": "other",
        "HIREMATE_DATA_DIR": str(tmp_path / "x" / ".." / "data"),
        "HIREMATE_EMBEDDED_PORT": "27100",
        "HIREMATE_EMBEDDED_SYNC_ON_COMMIT": "false",
        "HIREMATE_INGEST_HOST": "0.0.0.0",
        "HIREMATE_INGEST_PORT": " 9000 ",
        "HIREMATE_APP_HOST": "0.0.0.0",
        "HIREMATE_DEMO": "0",
        "HIREMATE_PUBLIC_URL": "https://assess.example.com/",
        "HIREMATE_TRUST_PROXY": "YES",
        "HIREMATE_RATE_EVENTS_PER_SECOND": "2.5",
        "HIREMATE_RATE_BURST": "7",
        "HIREMATE_GROUP_COMMIT_MS": "2",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.mongodb_uri == settings.mongo_uri == "mongodb://db.example:27017/"
    assert not settings.uses_embedded_store
    assert settings.secret == LONG_SECRET.encode()
    assert settings.db_name == "other"
    assert settings.data_dir == tmp_path / "data"
    assert settings.embedded_port == 27100
    assert settings.embedded_sync_on_commit is False
    assert settings.ingest_host == "0.0.0.0"
    assert settings.ingest_port == 9000
    assert settings.app_host == "0.0.0.0"
    assert settings.demo is False
    assert settings.public_url == "https://assess.example.com"
    assert settings.trust_proxy is True
    assert settings.limits.events_per_second == 2.5
    assert settings.limits.event_burst == 7
    assert settings.limits.group_commit_ms == 2.0


def test_public_url_follows_the_ingest_port(monkeypatch):
    monkeypatch.setenv("HIREMATE_INGEST_PORT", "9001")
    assert load_settings().public_url == "http://localhost:9001"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("ON", True), ("0", False), ("false", False), ("no", False)],
)
def test_switches(monkeypatch, raw, expected):
    monkeypatch.setenv("HIREMATE_TRUST_PROXY", raw)
    monkeypatch.setenv("HIREMATE_EMBEDDED_SYNC_ON_COMMIT", raw)
    settings = load_settings()
    assert settings.trust_proxy is expected
    assert settings.embedded_sync_on_commit is expected


@pytest.mark.parametrize("raw", ["", "   "])
def test_empty_or_blank_is_unset(monkeypatch, raw):
    for name in DEFAULTS:
        monkeypatch.setenv(name, raw)
    assert load_settings() == Settings()


def test_keywords_override_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HIREMATE_DB_NAME", "from-env")
    monkeypatch.setenv("HIREMATE_SECRET", "from-env".ljust(32, "-"))
    settings = Settings(db_name="given", data_dir=tmp_path, secret_from_env="given".ljust(32, "-"))
    assert (settings.db_name, settings.data_dir, settings.secret) == ("given", tmp_path, b"given".ljust(32, b"-"))


def test_unknown_hiremate_variables_are_ignored(monkeypatch):
    # Other code reads HIREMATE_* variables of its own (HIREMATE_COOKIE_ROUTES,
    # HIREMATE_REQUIRE_CHROMIUM): an undeclared one neither fails nor warns.
    defaults = load_settings()
    monkeypatch.setenv("HIREMATE_COOKIE_ROUTES", "1")
    monkeypatch.setenv("HIREMATE_NOT_A_SETTING", "whatever")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_settings() == defaults


def test_get_settings_reads_once(monkeypatch):
    first = get_settings()
    monkeypatch.setenv("HIREMATE_DB_NAME", "later")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().db_name == "later"


def test_settings_are_frozen():
    with pytest.raises(ValueError, match="frozen"):
        Settings().db_name = "x"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("HIREMATE_INGEST_PORT", "eighty", "HIREMATE_INGEST_PORT must be a whole number, got 'eighty'"),
        ("HIREMATE_RATE_BURST", "1.5", "HIREMATE_RATE_BURST must be a whole number, got '1.5'"),
        ("HIREMATE_RATE_EVENTS_PER_SECOND", "fast", "HIREMATE_RATE_EVENTS_PER_SECOND must be a number, got 'fast'"),
        ("HIREMATE_GROUP_COMMIT_MS", "2ms", "HIREMATE_GROUP_COMMIT_MS must be a number, got '2ms'"),
        (
            "HIREMATE_TRUST_PROXY",
            "maybe",
            "HIREMATE_TRUST_PROXY must be true or false (1/0, yes/no, on/off), got 'maybe'",
        ),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch, name, raw, message):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message


def test_every_bad_value_is_named_at_once(monkeypatch):
    monkeypatch.setenv("HIREMATE_APP_PORT", "x")
    monkeypatch.setenv("HIREMATE_SESSION_DAYS", "y")
    with pytest.raises(ConfigError, match=r"HIREMATE_APP_PORT .*'x'; HIREMATE_SESSION_DAYS .*'y'"):
        load_settings()


def test_a_uri_needs_a_secret(monkeypatch):
    monkeypatch.setenv("HIREMATE_MONGODB_URI", "mongodb://db.example/")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "HIREMATE_SECRET is required when HIREMATE_MONGODB_URI is set: "
        "every process of a deployment must sign with the same secret"
    )


def test_the_local_secret_is_generated_once_into_the_data_dir(tmp_path):
    settingsmod._resolve_secret.cache_clear()
    first = Settings(data_dir=tmp_path).secret
    assert (tmp_path / "secret").read_text().encode() == first
    assert len(first) >= 48
    settingsmod._resolve_secret.cache_clear()
    assert Settings(data_dir=tmp_path).secret == first


@pytest.mark.parametrize("length", [1, 16, 31])
def test_a_short_secret_is_refused_naming_the_variable_not_the_value(monkeypatch, length):
    # An HMAC key of a few characters is guessed offline from one signed cookie.
    short = "k" * (length - 1) + "Z"
    monkeypatch.setenv("HIREMATE_SECRET", short)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"HIREMATE_SECRET must be at least 32 characters long (it has {length})")
    assert short not in message
    with pytest.raises(ConfigError, match="HIREMATE_SECRET must be at least 32"):
        Settings(mongodb_uri="mongodb://db.example/", secret_from_env=short)
    monkeypatch.setenv("HIREMATE_SECRET", "k" * 32)
    assert load_settings().secret == b"k" * 32


def test_a_short_local_secret_file_is_refused(tmp_path):
    settingsmod._resolve_secret.cache_clear()
    (tmp_path / "secret").write_text("too-short")
    with pytest.raises(ConfigError, match="fewer than 32 characters"):
        Settings(data_dir=tmp_path).secret  # noqa: B018
    settingsmod._resolve_secret.cache_clear()


def test_the_data_dir_is_created_private_and_the_secret_file_too(tmp_path):
    settingsmod._resolve_secret.cache_clear()
    data_dir = tmp_path / "new" / "data"
    Settings(data_dir=data_dir).secret  # noqa: B018 - creates the folder and the secret
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "secret").stat().st_mode) == 0o600
    settingsmod._resolve_secret.cache_clear()


def test_a_data_dir_left_open_to_others_is_tightened(tmp_path):
    settingsmod._resolve_secret.cache_clear()
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    Settings(data_dir=data_dir).secret  # noqa: B018
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    settingsmod._resolve_secret.cache_clear()


# ---------------------------------------------------------------- .env.example


def test_committed_env_example_is_the_rendering():
    committed = (ROOT / ".env.example").read_text()
    assert committed == env_example(), (
        ".env.example differs from hiremate/settings.py: run `python -m hiremate env-example > .env.example`"
    )


def test_env_example_shows_each_variable_once_with_its_meaning():
    example = env_example()
    for field, info in Settings.model_fields.items():
        name = env_name(field)
        assert len(re.findall(rf"^(# )?{name}=", example, flags=re.MULTILINE)) == 1, name
        assert info.description, f"{name} has no description"
        assert info.description.split()[0] in example


def test_the_values_env_example_shows_are_the_defaults(monkeypatch):
    defaults = load_settings()
    assigned = re.findall(r"^(HIREMATE_[A-Z_]+)=(.*)$", env_example(), flags=re.MULTILINE)
    declared = {env_name(field) for field, info in Settings.model_fields.items() if info.default is not None}
    assert {name for name, _ in assigned} == declared
    for name, value in assigned:
        monkeypatch.setenv(name, value)
    assert load_settings() == defaults


# ---------------------------------------------------------------- mail


def test_smtp_url_needs_a_sender_and_a_known_scheme_and_never_echoes_its_password(monkeypatch):
    monkeypatch.setenv("HIREMATE_SMTP_URL", "smtp://user:hunter2-secret@mail.example.com:587")
    with pytest.raises(ConfigError, match="HIREMATE_MAIL_FROM") as missing:
        load_settings()
    assert "hunter2" not in str(missing.value)
    monkeypatch.setenv("HIREMATE_MAIL_FROM", "HireMate <hr@example.com>")
    assert load_settings().smtp_url.startswith("smtp://")
    assert "hunter2" not in repr(load_settings())
    monkeypatch.setenv("HIREMATE_SMTP_URL", "http://user:hunter2-secret@mail.example.com")
    with pytest.raises(ConfigError, match="HIREMATE_SMTP_URL") as bad:
        load_settings()
    assert "hunter2" not in str(bad.value)


def test_app_url_follows_the_app_port(monkeypatch):
    monkeypatch.setenv("HIREMATE_APP_PORT", "9100")
    assert load_settings().app_url == "http://localhost:9100"


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("HIREMATE_GREENHOUSE_PATCH_HEADERS", "Authorization: x", "is not JSON"),
        ("HIREMATE_GREENHOUSE_PATCH_HEADERS", '{"X-Retry": 3}', "every header's value is a string"),
        ("HIREMATE_GREENHOUSE_PATCH_BODY", "[1, 2]", "must be a JSON object"),
    ],
)
def test_the_greenhouse_patch_settings_must_be_json_objects(monkeypatch, tmp_path, name, value, problem):
    monkeypatch.setenv("HIREMATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=problem):
        load_settings()
