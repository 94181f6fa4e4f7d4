"""Small Streamlit helpers every recruiter page shares: status badges,
pagination, a one-time secret box with a copy button, flash messages,
refusals shown as messages, cached reads several pages make, and times and
durations for people.

Like ``recruiter.session`` this module imports Streamlit; the domain modules do
not. Every helper takes the session-state ``key`` it uses from the caller,
so pages keep their own prefixes ("tasks_page", "assess_new_link").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from bson import ObjectId
from streamlit.delta_generator import DeltaGenerator

from hiremate import organizations, reports, skills
from hiremate.errors import FormProblems, Refusal, TaskValidationError
from hiremate.models import AttemptStatus
from hiremate.scope import Scope
from hiremate.timeutil import local_time, utcnow
from recruiter import session, task_forms

BadgeColor = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "primary"]
FlashKind = Literal["success", "info", "warning", "error"]

_log = logging.getLogger(__name__)


# ---------------------------------------------------------------- status badges


@dataclass(frozen=True)
class BadgeStyle:
    label: str
    color: BadgeColor
    icon: str


STATUS_STYLES: Mapping[str, BadgeStyle] = {
    AttemptStatus.PENDING.value: BadgeStyle("Pending", "blue", ":material/schedule:"),
    AttemptStatus.IN_PROGRESS.value: BadgeStyle("In progress", "orange", ":material/play_circle:"),
    AttemptStatus.COMPLETED.value: BadgeStyle("Completed", "green", ":material/check_circle:"),
    AttemptStatus.EXPIRED.value: BadgeStyle("Expired", "gray", ":material/timer_off:"),
    AttemptStatus.LOCKED.value: BadgeStyle("Locked", "red", ":material/lock:"),
}


def status_style(status: str) -> BadgeStyle:
    return STATUS_STYLES.get(str(status), BadgeStyle(str(status).replace("_", " ").capitalize(), "gray", ""))


def status_label(status: str) -> str:
    """``in_progress`` -> ``In progress`` (for tables and selectboxes)."""
    return status_style(status).label


def status_markdown(status: str) -> str:
    """The status as an inline badge for st.markdown, e.g. ``:green-badge[... Completed]``."""
    style = status_style(status)
    icon = f"{style.icon} " if style.icon else ""
    return f":{style.color}-badge[{icon}{style.label}]"


def status_badge(status: str) -> None:
    """Render the attempt status as a coloured badge."""
    style = status_style(status)
    st.badge(style.label, icon=style.icon or None, color=style.color)


# ---------------------------------------------------------------- pagination


@dataclass(frozen=True)
class PageWindow:
    """One page of a list: pass ``skip`` and ``limit`` to the query."""

    page: int  # 1-based
    pages: int
    page_size: int
    total: int

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when the list is empty)."""
        return min(self.skip + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.skip + self.page_size, self.total)

    def caption(self, noun: str = "item", plural: str | None = None) -> str:
        many = plural or f"{noun}s"
        if self.total == 0:
            return f"No {many}"
        if self.pages == 1:
            return count_noun(self.total, noun, plural)
        return f"Showing {self.first}–{self.last} of {self.total} {many}"


def filter_select(container: DeltaGenerator, label: str, values: Sequence[str], *, key: str, everything: str) -> str:
    """A selectbox of ``values`` (humanised) after "" shown as ``everything``
    ("Any category", "All difficulties"): "" means no filter."""
    return container.selectbox(
        label, ["", *values], format_func=lambda value: task_forms.humanize(value) if value else everything, key=key
    )


_AUDITED_VIEWS = "ui_audited_views"  # (action, attempt id) already audited in this browser session


def audit_view(scope: Scope, action: str, attempt_id: Any) -> None:
    """Record who looked at which candidate (``profile.viewed``, ``live.viewed``):
    once per page visit of an attempt in this session, not at every rerun a widget makes."""
    seen: set[tuple[str, str]] = st.session_state.setdefault(_AUDITED_VIEWS, set())
    key = (action, str(attempt_id))
    if key in seen:
        return
    with session.database_guard():
        scope.audit(action, "attempt", attempt_id)
    seen.add(key)


def count_noun(count: int, noun: str, plural: str | None = None) -> str:
    """``1 task``, ``3 tasks`` (``plural`` for irregular nouns): the profile's rule, ``skills.plural``."""
    return skills.plural(count, noun, plural)


def page_window(total: int, page_size: int, page: int | None) -> PageWindow:
    """The window of ``page`` (clamped to the pages that exist)."""
    page_size = max(1, int(page_size))
    total = max(0, int(total))
    pages = max(1, math.ceil(total / page_size))
    return PageWindow(page=min(max(int(page or 1), 1), pages), pages=pages, page_size=page_size, total=total)


def paginate(
    total: int,
    *,
    key: str,
    page_size: int = 20,
    reset_on: Sequence[Any] = (),
    noun: str = "item",
    plural: str | None = None,
) -> PageWindow:
    """Render "Showing 21–40 of 345 tasks" (``noun="task"``) and, with more
    than one page, a page picker (``st.pagination`` under ``key``); return
    the chosen window.

    Call it after counting and before reading the rows (pass the window's
    ``skip``/``limit`` to the query). ``reset_on`` holds the list's filters:
    when they change, the list goes back to page 1. To show the picker under
    the rows, create ``rows = st.container()`` first and fill it afterwards.
    """
    filters_key = f"{key}__filters"
    signature = repr(tuple(reset_on))
    if st.session_state.get(filters_key) != signature:
        st.session_state[filters_key] = signature
        st.session_state[key] = 1
    window = page_window(total, page_size, st.session_state.get(key, 1))
    columns = st.columns([3, 2], vertical_alignment="center")
    columns[0].caption(window.caption(noun, plural))
    if window.pages > 1:
        st.session_state[key] = window.page  # the list may have shrunk since the last run
        with columns[1]:
            st.pagination(window.pages, key=key, width="stretch")
    return window


# ---------------------------------------------------------------- secrets shown once


SECRET_WARNING = (
    "Copy it now: it is shown only this once. HireMate stores only a fingerprint of it and cannot show it again."
)


def copy_box(value: str, *, label: str | None = None) -> None:
    """``value`` in a code box (its copy button copies it exactly)."""
    if label:
        st.caption(label)
    st.code(value, language=None, wrap_lines=True)


def remember_secret(key: str, value: str, *, title: str, note: str = "") -> None:
    """Keep a just-created secret (a candidate link, an invitation token) for
    ``show_secret``: in this browser tab's session only, until dismissed."""
    st.session_state[key] = {"value": value, "title": title, "note": note}


def show_secret(key: str, *, warning: str = SECRET_WARNING) -> bool:
    """Render the secret kept under ``key``: title, copy box, warning and a
    button that forgets it. Returns whether one was shown."""
    secret = st.session_state.get(key)
    if not isinstance(secret, dict) or not secret.get("value"):
        return False
    with st.container(border=True):
        st.markdown(f":material/key: **{session.escape_markdown(str(secret.get('title') or 'Copy this'))}**")
        copy_box(str(secret["value"]))
        if secret.get("note"):
            st.caption(session.escape_markdown(str(secret["note"])))
        st.warning(warning, icon=":material/visibility_off:")
        st.button("Done, I have copied it", key=f"{key}__done", on_click=forget, args=(key,))
    return True


def forget(key: str) -> None:
    st.session_state.pop(key, None)


# ---------------------------------------------------------------- messages


def flash(key: str, message: str, *, kind: FlashKind = "success") -> None:
    """A message for the next run of the page (``show_flash(key)`` shows it once).

    ``message`` is markdown: pass anyone's text in it through
    ``session.escape_markdown`` (a name like ``[click](http://evil)`` would
    otherwise become a link)."""
    st.session_state[key] = (kind, message)


def show_flash(key: str) -> None:
    kept = st.session_state.pop(key, None)
    if not kept:
        return
    kind, message = kept
    show: Callable[..., Any] = {"success": st.success, "info": st.info, "warning": st.warning}.get(kind, st.error)
    show(message)


def problems_markdown(problems: Sequence[str], intro: str = "Please fix:") -> str:
    """A list of problems as escaped markdown bullets."""
    return "\n".join([intro, "", *(f"- {session.escape_markdown(p)}" for p in problems)])


def sentence(text: str) -> str:
    """A refusal's message with a capital letter and a full stop."""
    text = str(text).strip()
    if not text:
        return "That did not work."
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


@contextmanager
def refusals(container: DeltaGenerator | None = None, *, as_written: bool = False) -> Iterator[None]:
    """Run a user's action; a ``Refusal`` (invalid input, a rule of the
    domain, a lost race) or a database that does not answer becomes an error
    message in ``container`` (default: here) and the rest of the ``with``
    block is skipped. Nothing else is caught: any other exception, a
    ``ValueError`` included, is a bug and gets Streamlit's error page and
    log line, never a polite message.

    A refusal with ``problems`` (a form) is a list; any other is its message
    as a sentence with an icon, or exactly as written and without an icon
    when ``as_written`` (the login forms, whose messages are finished
    sentences). Every message is escaped: typed names stay literal."""
    target: Any = container if container is not None else st
    try:
        yield
    except (TaskValidationError, FormProblems) as error:
        target.error(problems_markdown(error.problems), icon=":material/error:")
    except Refusal as error:
        if as_written:
            target.error(session.escape_markdown(str(error)))
        else:
            target.error(session.escape_markdown(sentence(str(error))), icon=":material/block:")
    except session.DATABASE_DOWN as error:
        _log.warning("database unavailable: %s", error)
        target.error(session.DATABASE_DOWN_MESSAGE, icon=":material/cloud_off:")


def invalidate_reads() -> None:
    """Forget cached reads (call after a write, so lists show it at once)."""
    st.cache_data.clear()


# ---------------------------------------------------------------- cached reads


def positions(scope: Scope) -> list[str]:
    """The organisation's positions, for a filter (cached briefly, per organisation)."""
    return _positions(str(scope.organization_id), scope)


@st.cache_data(ttl=60, show_spinner=False)
def _positions(organization_id: str, _scope: Scope) -> list[str]:
    return reports.positions(_scope)


# ---------------------------------------------------------------- times for people


_DURATION_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def format_duration(seconds: float | None, *, parts: int = 2) -> str:
    """``754`` -> ``12 min 34 s``; with ``parts=1``, ``13 min`` (rounded to
    the last unit shown); None -> ``—``."""
    if seconds is None or seconds != seconds:  # None or NaN
        return "—"
    total = max(0, math.floor(seconds + 0.5))
    if total == 0:
        return "0 s"
    lead = next(i for i, (size, _) in enumerate(_DURATION_UNITS) if total >= size)
    step = _DURATION_UNITS[min(lead + parts - 1, len(_DURATION_UNITS) - 1)][0]
    total = math.floor(total / step + 0.5) * step
    lead = next(i for i, (size, _) in enumerate(_DURATION_UNITS) if total >= size)  # 59.6 min is 1 h
    shown = []
    for size, unit in _DURATION_UNITS[lead : lead + parts]:
        count, total = divmod(total, size)
        if count:
            shown.append(f"{count} {unit}")
    return " ".join(shown)


def format_ago(when: datetime | None, now: datetime | None = None) -> str:
    """``when`` relative to ``now``: "just now", "5 min ago", "in 3 days"."""
    if when is None:
        return "—"
    now = now or utcnow()
    delta = (_aware(now) - _aware(when)).total_seconds()
    future, delta = delta < 0, abs(delta)
    if delta < 45:
        return "in a moment" if future else "just now"
    minutes, hours, days = (math.floor(delta / size + 0.5) for size in (60, 3600, 86400))
    if minutes < 60:
        text = f"{max(minutes, 1)} min"
    elif hours < 24:
        text = f"{hours} h"
    else:
        text = count_noun(days, "day")
    return f"in {text}" if future else f"{text} ago"


def format_time(when: datetime | None, zone: ZoneInfo | None = None) -> str:
    """``2026-11-25 18:04 CET``: in the organisation's time zone (an admin's
    setting, UTC by default), with the zone's abbreviation."""
    if when is None:
        return "—"
    return local_time(when, zone or organization_zone(), abbreviation=True)


def organization_zone() -> ZoneInfo:
    """The time zone of the logged-in user's organisation (UTC when logged out)."""
    organization_id = st.session_state.get(ORG_ZONE_KEY)
    return ZoneInfo(_zone_name(organization_id) if organization_id else "UTC")


ORG_ZONE_KEY = "ui_organization_id"  # set by app.py's gate for the logged-in user


@st.cache_data(ttl=30, show_spinner=False)
def _zone_name(organization_id: str) -> str:
    """Read at most every 30 s: a changed zone shows on every page within that."""
    organization = organizations.get_organization(session.database(), ObjectId(organization_id))
    return organization.settings.time_zone if organization else "UTC"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------- tables


def data_table(data: Any, *, what: str, key: str | None = None, **dataframe_kwargs: Any) -> None:
    """``data`` (a DataFrame or a list of row dicts) as ``st.dataframe``, and
    the same rows as a plain HTML table in an expander below it: the data
    frame is drawn on a canvas that screen readers cannot read (WCAG 1.3.1),
    so it is never the only form of a table. ``what`` names the rows ("the
    event stream") in the expander's label."""
    st.dataframe(data, key=key, **dataframe_kwargs)
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame.from_records(list(data))
    text = frame.round(2).astype(str).replace({"None": "", "nan": "", "NaT": "", "<NA>": ""})
    with st.expander(
        f"{what[:1].upper()}{what[1:]} as a plain table (for screen readers)", icon=":material/table_rows:"
    ):
        st.table(text, border="horizontal", hide_index=bool(dataframe_kwargs.get("hide_index")))
