"""One place for time: UTC, timezone-aware, millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def to_ms(value: datetime) -> datetime:
    """Truncate to milliseconds (what MongoDB stores) and make it UTC-aware."""
    if value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # already so (datetimes are immutable): the ingest path calls this per event
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def utcnow() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


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


# How people read a time: minutes, in a time zone, in an order every
# spreadsheet parses (``2026-11-25 18:04``). Pages add the zone's
# abbreviation; exports name the zone in the column header instead.
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M"


def local_time(value: datetime | None, zone: tzinfo, *, abbreviation: bool = False) -> str:
    """``value`` in ``zone`` as ``YYYY-MM-DD HH:MM`` (a naive value is UTC),
    with the zone's abbreviation when asked (``2026-11-25 18:04 CET``); ""
    for None. The one formatting of a time for people: pages
    (``recruiter.ui.format_time``), exports and the PDF report use it."""
    if value is None or value != value:  # None, or pandas' NaT
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    shown = aware.astimezone(zone)
    text = f"{shown.year:04d}" + shown.strftime(LOCAL_TIME_FORMAT[2:])
    return f"{text} {shown.strftime('%Z')}" if abbreviation else text
