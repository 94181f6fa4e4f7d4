"""Configuration from HIREMATE_* environment variables.

The variable names in ARCHITECTURE.md's configuration table are a contract;
everything else here has a sane local default.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hiremate.errors import ConfigError


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class IngestLimits:
    """The configurable limits of PROTOCOL.md."""

    max_frame_bytes: int = 64 * 1024
    max_batch_events: int = 500
    max_batch_bytes: int = 48 * 1024
    events_per_second: float = 50.0
    event_burst: int = 200
    connections_per_minute: int = 30
    ping_interval_seconds: float = 20.0
    peer_timeout_seconds: float = 60.0
    live_queue_size: int = 1000
    group_commit_ms: float = 0.0


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    db_name: str = "hiremate"
    data_dir: Path = Path("./data")
    secret_from_env: str | None = None
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8765
    app_port: int = 8501
    public_url: str = "http://localhost:8765"
    embedded_port: int = 27018
    embedded_sync_on_commit: bool = True
    token_expiry_days: int = 7
    session_days: int = 7
    trust_proxy: bool = False
    limits: IngestLimits = field(default_factory=IngestLimits)

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


def load_settings() -> Settings:
    """Read the environment now (tests build their own Settings this way)."""
    uri = os.environ.get("HIREMATE_MONGODB_URI") or None
    secret = os.environ.get("HIREMATE_SECRET") or None
    if uri and not secret:
        raise ConfigError(
            "HIREMATE_SECRET is required when HIREMATE_MONGODB_URI is set: "
            "every process of a deployment must sign with the same secret"
        )
    limits = IngestLimits(
        max_frame_bytes=_env_int("HIREMATE_MAX_FRAME_BYTES", 64 * 1024),
        max_batch_events=_env_int("HIREMATE_MAX_BATCH_EVENTS", 500),
        max_batch_bytes=_env_int("HIREMATE_MAX_BATCH_BYTES", 48 * 1024),
        events_per_second=_env_float("HIREMATE_RATE_EVENTS_PER_SECOND", 50.0),
        event_burst=_env_int("HIREMATE_RATE_BURST", 200),
        connections_per_minute=_env_int("HIREMATE_CONNECTIONS_PER_MINUTE", 30),
        ping_interval_seconds=_env_float("HIREMATE_PING_INTERVAL_SECONDS", 20.0),
        peer_timeout_seconds=_env_float("HIREMATE_PEER_TIMEOUT_SECONDS", 60.0),
        live_queue_size=_env_int("HIREMATE_LIVE_QUEUE_SIZE", 1000),
        group_commit_ms=_env_float("HIREMATE_GROUP_COMMIT_MS", 0.0),
    )
    port = _env_int("HIREMATE_INGEST_PORT", 8765)
    return Settings(
        mongodb_uri=uri,
        db_name=os.environ.get("HIREMATE_DB_NAME") or "hiremate",
        data_dir=Path(os.environ.get("HIREMATE_DATA_DIR") or "./data").resolve(),
        secret_from_env=secret,
        ingest_host=os.environ.get("HIREMATE_INGEST_HOST") or "127.0.0.1",
        ingest_port=port,
        app_port=_env_int("HIREMATE_APP_PORT", 8501),
        public_url=(os.environ.get("HIREMATE_PUBLIC_URL") or f"http://localhost:{port}").rstrip("/"),
        embedded_port=_env_int("HIREMATE_EMBEDDED_PORT", 27018),
        embedded_sync_on_commit=_env_bool("HIREMATE_EMBEDDED_SYNC_ON_COMMIT", True),
        token_expiry_days=_env_int("HIREMATE_TOKEN_EXPIRY_DAYS", 7),
        session_days=_env_int("HIREMATE_SESSION_DAYS", 7),
        trust_proxy=_env_bool("HIREMATE_TRUST_PROXY"),
        limits=limits,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


@lru_cache(maxsize=8)
def _resolve_secret(from_env: str | None, data_dir: Path, local: bool) -> bytes:
    if from_env:
        return from_env.encode()
    if not local:
        raise ConfigError("HIREMATE_SECRET is required when HIREMATE_MONGODB_URI is set")
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret"
    # Exclusive create: of several processes starting together exactly one
    # writes the secret, and every one of them then reads the same bytes.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    for _ in range(100):
        text = path.read_text().strip()
        if text:
            return text.encode()
        import time

        time.sleep(0.01)  # the creator has not written yet
    raise ConfigError(f"{path} is empty: delete it and start again")
