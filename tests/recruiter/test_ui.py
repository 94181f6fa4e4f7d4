"""recruiter.ui: the pure helpers directly, the Streamlit ones in small
AppTest scripts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from streamlit.testing.v1 import AppTest

from hiremate.models import AttemptStatus
from recruiter import ui

# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("total", "size", "page", "expected"),
    [
        (0, 20, 1, (1, 1, 0, 0, 0, "No tasks")),
        (1, 20, 1, (1, 1, 0, 1, 1, "1 task")),
        (5, 20, 1, (1, 1, 0, 1, 5, "5 tasks")),
        (45, 20, 2, (2, 3, 20, 21, 40, "Showing 21–40 of 45 tasks")),
        (45, 20, 3, (3, 3, 40, 41, 45, "Showing 41–45 of 45 tasks")),
        (45, 20, 9, (3, 3, 40, 41, 45, "Showing 41–45 of 45 tasks")),  # clamped
        (45, 20, 0, (1, 3, 0, 1, 20, "Showing 1–20 of 45 tasks")),
        (45, 20, None, (1, 3, 0, 1, 20, "Showing 1–20 of 45 tasks")),
    ],
)
def test_page_window(total, size, page, expected):
    window = ui.page_window(total, size, page)
    assert (window.page, window.pages, window.skip, window.first, window.last, window.caption("task")) == expected
    assert window.limit == size


def test_every_status_has_a_badge():
    assert set(ui.STATUS_STYLES) == {s.value for s in AttemptStatus}
    assert ui.status_label("in_progress") == "In progress"
    assert ui.status_markdown("completed") == ":green-badge[:material/check_circle: Completed]"
    assert ui.status_markdown("something_new") == ":gray-badge[Something new]"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (0, "0 s"),
        (44.6, "45 s"),
        (60, "1 min"),
        (754, "12 min 34 s"),
        (3600, "1 h"),
        (3 * 3600 + 25 * 60 + 10, "3 h 25 min"),
        (86400 * 2 + 3600 * 5, "2 d 5 h"),
        (86400, "1 d"),
    ],
)
def test_format_duration(seconds, text):
    assert ui.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(754, "13 min"), (740, "12 min"), (3590, "1 h"), (5 * 3600 + 31 * 60, "6 h"), (29.5, "30 s"), (0.4, "0 s")],
)
def test_format_duration_with_one_part_rounds(seconds, text):
    assert ui.format_duration(seconds, parts=1) == text


NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=10), "3 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(hours=23, minutes=50), "1 day ago"),
        (timedelta(minutes=59, seconds=40), "1 h ago"),
        (timedelta(days=6, hours=13), "7 days ago"),
        (-timedelta(days=3), "in 3 days"),
        (-timedelta(seconds=5), "in a moment"),
    ],
)
def test_format_ago(delta, text):
    assert ui.format_ago(NOW - delta, NOW) == text


def test_count_noun():
    assert ui.count_noun(1, "task") == "1 task"
    assert ui.count_noun(0, "task") == "0 tasks"
    assert ui.count_noun(2, "person", "people") == "2 people"


def test_format_ago_and_time_of_nothing_or_naive_times():
    assert ui.format_ago(None) == "—"
    assert ui.format_time(None) == "—"
    assert ui.format_ago(datetime(2026, 11, 25, 17, 0), NOW) == "1 h ago"  # naive means UTC


def test_format_time_in_a_zone_and_in_utc():
    assert ui.format_time(NOW, ZoneInfo("Europe/Berlin")) == "2026-11-25 19:00 CET"
    assert ui.format_time(NOW) == "2026-11-25 18:00 UTC"  # nobody logged in: UTC


def test_sentence_and_problem_markdown():
    assert ui.sentence("give a reason for locking the attempt") == "Give a reason for locking the attempt."
    assert ui.sentence("Done!") == "Done!"
    assert ui.sentence("") == "That did not work."
    assert ui.problems_markdown(["Title: *is* required"]) == "Please fix:\n\n- Title\\: \\*is\\* required"


# ---------------------------------------------------------------- Streamlit helpers


def _pager_script(total: int, category: str) -> None:
    import streamlit as st

    from recruiter import ui

    window = ui.paginate(total, key="t_page", page_size=10, reset_on=(category,), noun="row")
    st.text(f"skip={window.skip} limit={window.limit}")


def _pager(total: int, category: str) -> AppTest:
    return AppTest.from_function(_pager_script, args=(total, category), default_timeout=10)


def test_paginate_renders_a_picker_only_with_more_than_one_page():
    at = _pager(8, "a").run()
    assert [c.value for c in at.caption] == ["8 rows"]
    assert not at.pagination
    at = _pager(35, "a").run()
    assert [c.value for c in at.caption] == ["Showing 1–10 of 35 rows"]
    at.pagination(key="t_page").select(4).run()
    assert at.text[0].value == "skip=30 limit=10"
    assert at.caption[0].value == "Showing 31–35 of 35 rows"


def test_paginate_goes_back_to_page_one_when_the_filters_change():
    at = _pager(35, "a").run()
    at.pagination(key="t_page").select(3).run()
    assert at.text[0].value == "skip=20 limit=10"
    at = _pager(35, "b")
    at.session_state["t_page"] = 3
    at.session_state["t_page__filters"] = repr(("a",))
    at.run()
    assert at.text[0].value == "skip=0 limit=10"


def test_paginate_clamps_when_the_list_shrank():
    at = _pager(12, "a")
    at.session_state["t_page"] = 4
    at.session_state["t_page__filters"] = repr(("a",))
    at.run()
    assert at.text[0].value == "skip=10 limit=10"


def _secret_script() -> None:
    import streamlit as st

    from recruiter import ui

    if st.button("make", key="make"):
        ui.remember_secret("t_secret", "s3cr3t-*token*", title="Link for *Ada*", note="valid 7 days")
    st.text(f"shown={ui.show_secret('t_secret')}")


def test_a_secret_is_shown_until_dismissed_then_forgotten():
    at = AppTest.from_function(_secret_script, default_timeout=10).run()
    assert at.text[0].value == "shown=False"
    at.button(key="make").click().run()
    assert at.text[0].value == "shown=True"
    assert [c.value for c in at.code] == ["s3cr3t-*token*"]  # exactly, for the copy button
    assert ":material/key: **Link for \\*Ada\\***" in [m.value for m in at.markdown]
    assert "shown only this once" in at.warning[0].value
    at.run()
    assert [c.value for c in at.code] == ["s3cr3t-*token*"]
    at.button(key="t_secret__done").click().run()
    assert not at.code and at.text[0].value == "shown=False"
    assert "t_secret" not in at.session_state


def _flash_script() -> None:
    import streamlit as st

    from recruiter import ui

    ui.show_flash("t_flash")
    if st.button("save", key="save"):
        ui.flash("t_flash", "Saved.")
        st.rerun()


def test_a_flash_is_shown_once_after_the_rerun():
    at = AppTest.from_function(_flash_script, default_timeout=10).run()
    at.button(key="save").click().run()
    assert [s.value for s in at.success] == ["Saved."]
    at.run()
    assert not at.success


def _refusal_script(kind: str) -> None:
    import streamlit as st
    from pymongo.errors import ServerSelectionTimeoutError

    from hiremate.attempts import AttemptClosed
    from recruiter import ui
    from recruiter.assessment_forms import FormProblems

    errors = {
        "closed": AttemptClosed("cannot lock an attempt that is completed"),
        "form": FormProblems(["Name: is required", "Email: is required"]),
        "down": ServerSelectionTimeoutError("no servers"),
    }
    with ui.refusals():
        raise errors[kind]
    st.text("after")


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("closed", "Cannot lock an attempt that is completed\\."),
        ("form", "Please fix:\n\n- Name\\: is required\n- Email\\: is required"),
        ("down", "The database does not answer right now."),
    ],
)
def test_refusals_become_messages_and_the_page_goes_on(kind, message):
    at = AppTest.from_function(_refusal_script, args=(kind,), default_timeout=10).run()
    assert not at.exception
    assert message in at.error[0].value
    assert at.text[0].value == "after"


def _bug_script() -> None:
    from recruiter import ui

    with ui.refusals():
        raise KeyError("a bug is not a refusal")


def test_a_bug_is_not_swallowed():
    at = AppTest.from_function(_bug_script, default_timeout=10).run()
    assert at.exception and not at.error
