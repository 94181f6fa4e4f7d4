"""One place for time: UTC, timezone-aware, millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ms(value: datetime) -> datetime:
    """Truncate to milliseconds (what MongoDB stores) and make it UTC-aware."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def utcnow() -> datetime:
    return to_ms(datetime.now(UTC))


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with milliseconds and a Z, as docs/protocol.md writes times."""
    if value is None:
        return None
    value = to_ms(value)
    # The year by hand: strftime's %Y writes year 1 as "1", which is not ISO 8601.
    return f"{value.year:04d}" + value.strftime("-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time that carries an offset; raise ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("time must be a string")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("time must carry an offset")
    return to_ms(parsed)
