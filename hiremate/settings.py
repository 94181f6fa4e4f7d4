"""Configuration from HIREMATE_* environment variables, each declared once.

The variable names in docs/architecture.md's configuration table are a contract;
everything else here has a sane local default.

Every variable is one ``Field`` below: its type, its default and its meaning.
From that one declaration come the reading of the environment, the type
conversion, the errors (which name the variable) and ``.env.example``
(:func:`env_example`, printed by ``python -m hiremate env-example``; a test
fails when the committed file differs). Before, each default was written three
times (a dataclass field, ``load_settings()`` and ``.env.example``) and they
could drift apart.

Why pydantic-settings rather than hand-written parsing: pydantic is already
HireMate's model layer, so this adds one small package by the same authors, not
a new way of thinking; a ``BaseSettings`` class reads prefixed variables,
converts them to the annotated types and reports a bad value with its field,
which :class:`Settings` turns into a :class:`ConfigError` naming the variable.
Hand-written, each of those is a helper per type plus a line per variable in a
loader (the code this replaces), and the documentation stays a separate copy.

``Settings()`` reads the environment; keywords override it
(``Settings(mongodb_uri=..., secret_from_env=...)``). An empty or blank value
counts as unset. HIREMATE_* variables that are not declared here are ignored,
as they always were: other modules read a few of their own
(``HIREMATE_COOKIE_ROUTES``) and so do the tests (``HIREMATE_REQUIRE_CHROMIUM``).
"""

from __future__ import annotations

import json
import secrets
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from hiremate.datadir import read_or_create
from hiremate.errors import ConfigError

ENV_PREFIX = "HIREMATE_"
# HMAC keys shorter than this are guessable offline from one signed cookie or
# ticket; the generated local secret has 64 characters.
MIN_SECRET_LENGTH = 32

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse_bool(value: Any) -> Any:
    """1/true/yes/on and 0/false/no/off, in any case; nothing else."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError("must be true or false (1/0, yes/no, on/off)")
    return value


EnvBool = Annotated[bool, BeforeValidator(_parse_bool)]


class IngestLimits(BaseModel):
    """The configurable limits of docs/protocol.md (each also a setting)."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True)

    max_frame_bytes: int = Field(
        64 * 1024, description="Largest WebSocket frame in bytes; larger ones close the socket with 1009."
    )
    max_batch_events: int = Field(500, description="Most events in one batch message.")
    max_batch_bytes: int = Field(48 * 1024, description="Largest batch message in bytes.")
    events_per_second: float = Field(
        50.0,
        validation_alias="HIREMATE_RATE_EVENTS_PER_SECOND",
        description="Sustained events a second per attempt.",
    )
    event_burst: int = Field(
        200,
        validation_alias="HIREMATE_RATE_BURST",
        description="Burst of events per attempt above the sustained rate.",
    )
    connections_per_minute: int = Field(30, description="New connections a minute per client address.")
    ping_interval_seconds: float = Field(20.0, description="Seconds between keep-alive pings.")
    peer_timeout_seconds: float = Field(60.0, description="Seconds of silence before a peer is dropped.")
    live_queue_size: int = Field(
        1000, description="Messages queued for one live subscriber before it is closed with 4408."
    )
    max_sockets_per_address: int = Field(
        20,
        description=(
            "Candidate sockets open at once from one client address (per ingest server process); "
            "more: 429 at the upgrade."
        ),
    )
    first_message_timeout_seconds: float = Field(
        15.0,
        description=(
            "Seconds a candidate socket that has not started may wait between its messages (the first one "
            "counts from the upgrade; pings and pongs do not count); longer: close 4408."
        ),
    )
    idle_timeout_seconds: float = Field(
        120.0,
        description=(
            "Seconds a started candidate socket may stay without any frame from the client (pongs count, "
            "so keep it above the ping interval); longer: close 4408."
        ),
    )
    max_unread_bytes: int = Field(
        256 * 1024,
        description=(
            "Bytes of answers written to one candidate socket that its client has not read yet; "
            "more: the client stopped reading, close 4429."
        ),
    )
    max_unanswered_messages: int = Field(
        1000,
        description=(
            "Messages of one candidate socket waiting for their answers; at this many the server reads "
            "no more from that socket until they are answered."
        ),
    )
    page_requests_per_minute: int = Field(
        60, description="Requests for candidate pages (/a/<token>) a minute per client address; more: 429."
    )
    live_connections_per_minute: int = Field(
        30, description="Live socket upgrades (/ws/live/...) a minute per client address; more: 429."
    )
    live_sockets_per_ticket: int = Field(
        3, description="Live sockets open at once with one ticket (per ingest server process); more: 429."
    )
    live_recheck_seconds: float = Field(
        30.0,
        description=(
            "Seconds between checks that an open live socket's user is still active, in the attempt's "
            "organisation and signed in; a failed check closes it with 4403."
        ),
    )
    group_commit_ms: float = Field(
        0.0,
        description=(
            "Milliseconds the ingest writer waits for more events before writing a group. "
            "0: a group is what queued while the previous one was being written (measured best "
            "for both latency and throughput on the embedded store; see bench/README.md)."
        ),
    )


class Settings(BaseSettings, IngestLimits):
    """Every HireMate setting; the limits are also grouped as ``limits``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    mongodb_uri: str | None = Field(
        None,
        description="A MongoDB connection string (MongoDB 7+, a replica set); unset: the embedded store.",
        examples=["mongodb+srv://user:password@cluster.example.net/"],
    )
    db_name: str = Field("hiremate", description="Database name.")
    data_dir: Path = Field(
        "./data",  # shown as written in .env.example; _resolve_data_dir makes it a Path
        validate_default=True,
        description="Embedded store files, the generated local secret and lock files.",
    )
    embedded_port: int = Field(27018, description="Port of the embedded store (only without HIREMATE_MONGODB_URI).")
    embedded_sync_on_commit: EnvBool = Field(
        True, description="Embedded store fsyncs every commit, so an acknowledged event survives a crash."
    )
    secret_from_env: str | None = Field(
        None,
        validation_alias="HIREMATE_SECRET",
        repr=False,
        description=(
            "Signs sessions, live tickets and IP hashes; at least 32 characters; required with "
            "HIREMATE_MONGODB_URI, the same in every process. Unset locally: generated into "
            "HIREMATE_DATA_DIR/secret."
        ),
        # Too short on purpose: uncommented as it is, it is refused with how to make one.
        examples=["change-me"],
    )
    audit_key_from_env: str | None = Field(
        None,
        validation_alias="HIREMATE_AUDIT_KEY",
        repr=False,
        description=(
            "Keys the HMAC chain of the audit log (never stored in the database); at least 32 characters; "
            "required with HIREMATE_MONGODB_URI, the same in every process, kept as long as the log. "
            "Unset locally: generated into HIREMATE_DATA_DIR/audit-key."
        ),
        examples=["change-me-too"],
    )
    ingest_host: str = Field(
        "127.0.0.1",
        description=(
            "Interface the ingest server listens on; 127.0.0.1: this machine only. "
            "0.0.0.0 opens it to every network the machine is on (candidates must reach it)."
        ),
    )
    ingest_port: int = Field(
        8765, description="Port of the ingest server (candidate page, candidate and live sockets, /healthz)."
    )
    public_url: str = Field(
        None,  # unset: _public_url derives it from ingest_port
        validate_default=True,
        description="Base of candidate links; unset: http://localhost:<HIREMATE_INGEST_PORT>.",
        examples=["https://assess.example.com"],
    )
    trust_proxy: EnvBool = Field(
        False,
        description=(
            "Take the client address from X-Forwarded-For, and HTTPS from X-Forwarded-Proto "
            "(only behind a trusted proxy)."
        ),
    )
    proxy_hops: int = Field(
        1,
        ge=1,
        description=(
            "With HIREMATE_TRUST_PROXY: how many trusted proxies stand in front of the recruiter app, each "
            "appending to X-Forwarded-For; the client is the entry that many places from the right "
            "(entries further left come from the client and are ignored)."
        ),
    )
    app_host: str = Field(
        "127.0.0.1",
        description=(
            "Interface the recruiter app started by `make run` listens on; 127.0.0.1: this machine only. "
            "0.0.0.0 opens it to every network the machine is on."
        ),
    )
    app_port: int = Field(8501, description="Port of the Streamlit app started by `make run`.")
    api_requests_per_minute: int = Field(
        300,
        ge=1,
        description=(
            "REST API v1 (/api/v1 on the recruiter app): sustained requests a minute per API key; "
            "more answer 429 with Retry-After."
        ),
    )
    api_burst: int = Field(
        60, ge=1, description="REST API v1: requests one API key may make at once above the sustained rate."
    )
    demo: EnvBool = Field(
        True,
        description=(
            "`make run` seeds the demo organisation, whose admin's random password is kept in "
            "HIREMATE_DATA_DIR/demo-password; never when HIREMATE_MONGODB_URI is set. "
            "0: not seeded (`python -m hiremate seed-demo` seeds it on request)."
        ),
    )
    session_days: int = Field(7, ge=1, description="Days a recruiter stays signed in at most (the absolute timeout).")
    session_idle_hours: float = Field(
        8,
        gt=0,
        description="Hours without any interaction after which a recruiter must log in again (the idle timeout).",
    )
    token_expiry_days: int = Field(
        7, description="Days an assessment link stays valid unless issued with another expiry."
    )
    in_progress_grace_hours: int = Field(
        24,
        ge=0,
        le=24 * 14,
        description="Hours an attempt started before its link expired may still be finished after that expiry.",
    )

    # Mail (hiremate.mail): unset HIREMATE_SMTP_URL means no email; the app then keeps copy-the-link.
    smtp_url: str | None = Field(
        None,
        repr=False,  # it may hold a password
        description=(
            "The mail server: smtp://user:password@host:587 (upgraded with STARTTLS whenever the server "
            "offers it) or smtps://user:password@host:465 (TLS from the start); percent-encode @ : / in "
            "the user or password. Unset: HireMate sends no email."
        ),
        examples=["smtp://user:password@smtp.example.com:587"],
    )
    smtp_require_tls: EnvBool = Field(
        False,
        description=(
            "Refuse to send through an smtp:// server that does not offer STARTTLS (false suits a mail "
            "server on this machine; set true for any server across a network)."
        ),
    )
    mail_from: str | None = Field(
        None,
        description="The sender of every email HireMate sends; required with HIREMATE_SMTP_URL.",
        examples=["HireMate <hiremate@example.com>"],
    )
    app_url: str = Field(
        None,  # unset: _app_url derives it from app_port
        validate_default=True,
        description=(
            "Base of links to the recruiter app in emails (colleagues' invitations, notices to recruiters); "
            "unset: http://localhost:<HIREMATE_APP_PORT>."
        ),
        examples=["https://hiremate.example.com"],
    )

    # Webhooks (hiremate.webhooks): endpoints an admin registers; no SSRF unless allowed here.
    webhook_allow_private: EnvBool = Field(
        False,
        description=(
            "Let webhook endpoints be on private, loopback, link-local or reserved addresses (receivers inside "
            "your own network). false: only https on public addresses, plus http://127.0.0.1, "
            "http://localhost and http://[::1] for a receiver on this machine."
        ),
    )

    # Greenhouse's assessment partner API (hiremate.greenhouse): the PATCH sent to the URL Greenhouse gave
    # with send_test once the profile exists, whose purpose is to make Greenhouse call test_status now.
    greenhouse_patch_headers: str = Field(
        "{}",
        description=(
            "Extra headers of the completion PATCH to Greenhouse, a JSON object of strings (e.g. an "
            "Authorization header if Greenhouse gives you one). Content-Type is application/json."
        ),
        examples=['{"Authorization": "Basic ..."}'],
    )
    greenhouse_patch_body: str = Field(
        '{"partner_interview_id": "{partner_interview_id}", "partner_status": "complete", '
        '"partner_profile_url": "{partner_profile_url}"}',
        description=(
            "The completion PATCH's JSON body; {partner_interview_id}, {partner_status} and "
            "{partner_profile_url} in its strings are filled in."
        ),
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None
        if self.mongodb_uri and not self.secret_from_env:
            raise ConfigError(
                "HIREMATE_SECRET is required when HIREMATE_MONGODB_URI is set: "
                "every process of a deployment must sign with the same secret"
            )
        _check_length("HIREMATE_SECRET", self.secret_from_env)
        if self.mongodb_uri and not self.audit_key_from_env:
            raise ConfigError(
                "HIREMATE_AUDIT_KEY is required when HIREMATE_MONGODB_URI is set: "
                "every process of a deployment must chain the audit log with the same key"
            )
        _check_length("HIREMATE_AUDIT_KEY", self.audit_key_from_env)
        if self.smtp_url is not None:
            _check_smtp(self.smtp_url, self.mail_from)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}
        return data

    @field_validator("data_dir", mode="after")
    @classmethod
    def _resolve_data_dir(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            port = info.data.get("ingest_port", cls.model_fields["ingest_port"].default)
            return f"http://localhost:{port}"
        return value.rstrip("/") if isinstance(value, str) else value

    @field_validator("app_url", mode="before")
    @classmethod
    def _app_url(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            port = info.data.get("app_port", cls.model_fields["app_port"].default)
            return f"http://localhost:{port}"
        return value.rstrip("/") if isinstance(value, str) else value

    @field_validator("greenhouse_patch_headers", "greenhouse_patch_body")
    @classmethod
    def _json_object(cls, value: str, info: ValidationInfo) -> str:
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"HIREMATE_{str(info.field_name).upper()} is not JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ValueError(f"HIREMATE_{str(info.field_name).upper()} must be a JSON object")
        if info.field_name == "greenhouse_patch_headers" and not all(isinstance(v, str) for v in parsed.values()):
            raise ValueError("HIREMATE_GREENHOUSE_PATCH_HEADERS: every header's value is a string")
        return value

    @property
    def limits(self) -> IngestLimits:
        """The ingest limits as one value (what the ingest server takes)."""
        return IngestLimits.model_construct(**{name: getattr(self, name) for name in IngestLimits.model_fields})

    @property
    def uses_embedded_store(self) -> bool:
        return not self.mongodb_uri

    @property
    def mongo_uri(self) -> str:
        """The URI every HireMate process connects with."""
        if self.mongodb_uri:
            return self.mongodb_uri
        return f"mongodb://127.0.0.1:{self.embedded_port}/"

    @property
    def secret(self) -> bytes:
        return _resolve_secret(self.secret_from_env, self.data_dir, self.uses_embedded_store)

    @property
    def audit_key(self) -> bytes:
        """The key of the audit log's HMAC chain (hiremate.audit)."""
        return _resolve_audit_key(self.audit_key_from_env, self.data_dir, self.uses_embedded_store)


def _check_length(variable: str, value: str | None) -> None:
    # Checked in Settings.__init__, not by a field validator, so the message never repeats the value.
    if value is not None and len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{variable} must be at least {MIN_SECRET_LENGTH} characters long "
            f"(it has {len(value)}); make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def _check_smtp(url: str, mail_from: str | None) -> None:
    """HIREMATE_SMTP_URL must name a host with smtp:// or smtps://; the message never repeats
    the value (it may hold a password)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname or port == -1:
        raise ConfigError(
            "HIREMATE_SMTP_URL must look like smtp://user:password@host:587 or smtps://user:password@host:465"
        )
    if not (mail_from or "").strip():
        raise ConfigError("HIREMATE_MAIL_FROM is required with HIREMATE_SMTP_URL (e.g. HireMate <hr@example.com>)")


def env_name(field: str) -> str:
    """The environment variable of a Settings field."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


def _explain(exc: ValidationError) -> str:
    """One sentence per bad value, naming the variable to fix."""
    names = {field: env_name(field) for field in Settings.model_fields}
    names |= {variable: variable for variable in names.values()}
    sentences = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else ""
        name = names.get(where, where)
        got = error.get("input")
        kind = error["type"]
        if kind.startswith("int_"):
            sentences.append(f"{name} must be a whole number, got {got!r}")
        elif kind.startswith("float_"):
            sentences.append(f"{name} must be a number, got {got!r}")
        elif kind == "value_error":
            sentences.append(f"{name} {error['ctx']['error']}, got {got!r}")
        else:
            sentences.append(f"{name}: {error['msg']}, got {got!r}")
    return "; ".join(sentences)


def load_settings() -> Settings:
    """Read the environment now (tests build their own Settings this way)."""
    return Settings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


# ---------------------------------------------------------------- .env.example

_ENV_EXAMPLE_HEADER = """\
# HireMate configuration: every HIREMATE_* variable hiremate/settings.py reads.
# All are optional for local use; the values shown are the defaults.
# Commented-out lines are unset by default; an empty value counts as unset.
# Generated by `python -m hiremate env-example` from hiremate/settings.py: edit there."""

# Sections of .env.example, in order; every setting is in exactly one.
_SECTIONS: dict[str, tuple[str, ...]] = {
    "database": ("mongodb_uri", "db_name", "data_dir", "embedded_port", "embedded_sync_on_commit"),
    "secrets": ("secret_from_env", "audit_key_from_env"),
    "ingest server and links": ("ingest_host", "ingest_port", "public_url", "trust_proxy", "proxy_hops"),
    "recruiter app": (
        "app_host",
        "app_port",
        "demo",
        "session_days",
        "session_idle_hours",
        "token_expiry_days",
        "in_progress_grace_hours",
    ),
    'ingest limits (docs/protocol.md "Limits")': tuple(IngestLimits.model_fields),
    'mail (docs/architecture.md "Mail")': ("smtp_url", "smtp_require_tls", "mail_from", "app_url"),
    'REST API v1 (docs/integrations.md "REST API v1")': ("api_requests_per_minute", "api_burst"),
    'webhooks (docs/integrations.md "Webhooks")': ("webhook_allow_private",),
    'Greenhouse (docs/integrations.md "Greenhouse")': ("greenhouse_patch_headers", "greenhouse_patch_body"),
}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _describe(field: str, info: FieldInfo) -> list[str]:
    lines = textwrap.wrap(info.description or "", width=86, initial_indent="# ", subsequent_indent="# ")
    if info.default is None:
        example = info.examples[0] if info.examples else "..."
        lines.append(f"# {env_name(field)}={example}")
    else:
        lines.append(f"{env_name(field)}={_shown(info.default)}")
    return lines


def env_example() -> str:
    """The text of ``.env.example``: each variable, its meaning and its default."""
    placed = [field for fields in _SECTIONS.values() for field in fields]
    if sorted(placed) != sorted(Settings.model_fields):
        raise AssertionError(f"_SECTIONS must list every setting once: {sorted(placed)}")
    parts = [_ENV_EXAMPLE_HEADER]
    for title, fields in _SECTIONS.items():
        lines = [f"# --- {title}"]
        for field in fields:
            lines += _describe(field, Settings.model_fields[field])
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- the secret


@lru_cache(maxsize=8)
def _resolve_secret(from_env: str | None, data_dir: Path, local: bool) -> bytes:
    return _resolve_key("HIREMATE_SECRET", "secret", from_env, data_dir, local)


@lru_cache(maxsize=8)
def _resolve_audit_key(from_env: str | None, data_dir: Path, local: bool) -> bytes:
    return _resolve_key("HIREMATE_AUDIT_KEY", "audit-key", from_env, data_dir, local)


def _resolve_key(variable: str, filename: str, from_env: str | None, data_dir: Path, local: bool) -> bytes:
    if from_env:
        return from_env.encode()
    if not local:
        raise ConfigError(f"{variable} is required when HIREMATE_MONGODB_URI is set")
    path = data_dir / filename
    # Exclusive create (0600): of several processes starting together exactly
    # one writes the secret, and every one of them then reads the same bytes.
    text = read_or_create(path, lambda: secrets.token_urlsafe(48))
    if len(text) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{path} holds fewer than {MIN_SECRET_LENGTH} characters: delete it and start again")
    return text.encode()
