"""The error contract (hiremate/errors.py): one hierarchy, drawn in its
docstring; a Refusal is shown as a message, anything else is a bug that
keeps Streamlit's error page, on the pages as in ui.refusals."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest
from streamlit.testing.v1 import AppTest

import hiremate
import recruiter
from hiremate import attempts, auth, errors, live_tickets, reports, settings, tasks
from hiremate import db as dbmod
from hiremate.errors import HireMateError, Refusal
from hiremate.ops import cli
from recruiter import assessment_forms
from tests.support.page_helpers import make_org, seed_completed

# The two errors only an operator can fix: not refusals (see the docstring).
OPERATIONAL = {
    errors.ConfigError,
    errors.StoreUnavailable,
    errors.AuditAppendFailed,
    errors.MailSendFailed,
}  # the mail server failing: retried, never shown as a refusal


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in hiremate.errors, by name."""
    return {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == errors.__name__
    }


# ---------------------------------------------------------------- the hierarchy


def test_every_class_is_a_hiremate_error_and_every_one_a_person_reads_is_a_refusal():
    classes = exception_classes()
    assert {HireMateError, Refusal} | OPERATIONAL <= set(classes.values())
    for name, cls in classes.items():
        assert issubclass(cls, HireMateError), name
        if cls not in {HireMateError, Refusal} and not any(issubclass(cls, op) for op in OPERATIONAL):
            assert issubclass(cls, Refusal), f"{name} is neither a Refusal nor operational"
    for cls in OPERATIONAL:
        assert not issubclass(cls, Refusal), cls.__name__
    assert set(errors.__all__) == set(classes)


TREE_LINE = re.compile(r"(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w*)(?: \(also (?P<also>[\w, ]+)\))?")


def drawn_tree() -> dict[str, tuple[str | None, set[str]]]:
    """name -> (parent, other bases) as the module docstring draws them:
    from the line "HireMateError" to the next blank line."""
    lines = (errors.__doc__ or "").splitlines()
    start = next(index for index, line in enumerate(lines) if line.strip() == "HireMateError")
    drawn: dict[str, tuple[str | None, set[str]]] = {}
    branch: list[tuple[int, str]] = []  # (column of the name, name) from the root down
    for line in lines[start:]:
        if not line.strip():
            break
        match = TREE_LINE.fullmatch(line)
        assert match, f"not a line of the drawing: {line!r}"
        column, name = len(match["indent"]), match["name"]
        while branch and branch[-1][0] >= column:
            branch.pop()
        assert name not in drawn, f"{name} is drawn twice"
        also = {part.strip() for part in (match["also"] or "").split(",")} - {""}
        drawn[name] = (branch[-1][1] if branch else None, also)
        branch.append((column, name))
    return drawn


def test_the_docstring_draws_exactly_the_classes_of_the_module():
    drawn = drawn_tree()
    classes = exception_classes()
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        parents = [base.__name__ for base in cls.__bases__ if issubclass(base, HireMateError)]
        others = {base.__name__ for base in cls.__bases__ if not issubclass(base, HireMateError)} - {"Exception"}
        assert drawn[name] == ((parents[0] if parents else None), others), name


def test_the_drawing_is_parsed_as_a_tree():
    drawn = drawn_tree()
    assert drawn["HireMateError"] == (None, set())
    assert drawn["LoginThrottled"] == ("AuthError", set())
    assert drawn["TaskValidationError"] == ("TaskError", {"ValueError"})
    assert drawn["StoreUnavailable"] == ("HireMateError", {"RuntimeError"})


@pytest.mark.parametrize(
    ("module", "names"),
    [
        (auth, ["AuthError", "LoginThrottled"]),
        (tasks, ["TaskError", "TaskValidationError", "TaskNotFound"]),
        (attempts, ["AttemptError", "AttemptNotFound", "TokenAlreadyUsed", "AttemptClosed"]),
        (live_tickets, ["TicketError", "TicketMalformed", "TicketForged", "TicketExpired"]),
        (assessment_forms, ["FormProblems"]),
        (settings, ["ConfigError"]),
        (dbmod, ["StoreUnavailable"]),
        (cli, ["UsageError"]),
    ],
)
def test_the_old_names_are_the_same_classes(module, names):
    for name in names:
        assert getattr(module, name) is getattr(errors, name)


def test_the_old_extra_bases_stay_for_callers_that_catch_them():
    assert issubclass(errors.TaskValidationError, ValueError)
    assert issubclass(errors.TaskNotFound, LookupError)
    assert issubclass(errors.FormProblems, ValueError)
    assert issubclass(errors.TicketError, ValueError)
    assert issubclass(errors.ReportError, ValueError)
    assert issubclass(errors.ConfigError, RuntimeError)
    assert issubclass(errors.StoreUnavailable, RuntimeError)


def test_no_exception_class_is_defined_outside_errors_py():
    stray = []
    for package in (hiremate, recruiter):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name.endswith("__main__"):
                continue  # running it is the CLI
            module = importlib.import_module(info.name)
            stray += [
                f"{info.name}.{name}"
                for name, value in vars(module).items()
                if inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and info.name != errors.__name__
            ]
    assert stray == []


# ---------------------------------------------------------------- the catch helper


def _caught_script(kind: str) -> None:
    import streamlit as st

    from hiremate.auth import AuthError
    from recruiter import ui

    raised = {
        "plain": ValueError("a plain ValueError is a bug"),
        "refusal": AuthError("Email or password is incorrect"),
    }
    with ui.refusals(as_written=kind == "refusal"):
        raise raised[kind]
    st.text("after")


def logged_bug(caplog: pytest.LogCaptureFixture, message: str) -> bool:
    """Streamlit logged the uncaught exception (its page shows a redacted one)."""
    return any(record.exc_info and message in str(record.exc_info[1]) for record in caplog.records)


def test_ui_refusals_lets_a_plain_value_error_through(caplog):
    at = AppTest.from_function(_caught_script, args=("plain",), default_timeout=10).run()
    assert at.exception and not at.error
    assert logged_bug(caplog, "a plain ValueError is a bug")


def test_ui_refusals_as_written_shows_the_message_as_the_domain_wrote_it():
    at = AppTest.from_function(_caught_script, args=("refusal",), default_timeout=10).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Email or password is incorrect"]
    assert at.text[0].value == "after"


# ---------------------------------------------------------------- pages


def _bug(*args: object, **kwargs: object) -> None:
    raise ValueError("a bug, not a refusal")


def _compare_two(org):
    ada, alan = seed_completed(org, name="Ada Lovelace"), seed_completed(org, name="Alan Turing")
    return org.open_page("app_pages/compare.py", attempts=f"{ada.id},{alan.id}")


def _candidates(org):
    seed_completed(org, name="Ada Lovelace")
    return org.open_page("app_pages/candidates.py")


def _exports(org):
    seed_completed(org, name="Ada Lovelace")
    at = org.open_page("app_pages/exports.py")
    at.button(key="exports_prepare_candidates").click()
    return at


@pytest.mark.parametrize(
    ("open_page", "function"),
    [(_compare_two, "compare_frame"), (_candidates, "candidates_page"), (_exports, "candidates_csv")],
    ids=["compare", "candidates", "exports"],
)
def test_a_page_shows_a_plain_value_error_as_a_bug_not_a_refusal(app_env, db, monkeypatch, caplog, open_page, function):
    at = open_page(make_org(db))
    monkeypatch.setattr(reports, function, _bug)
    at.run()
    assert at.exception, "the ValueError was shown as a message or swallowed"
    assert not [e.value for e in at.error if "a bug" in e.value]
    assert logged_bug(caplog, "a bug, not a refusal")


def test_the_compare_page_shows_a_report_refusal_as_a_message(app_env, db):
    org = make_org(db)
    ada, alan = seed_completed(org, name="Ada Lovelace"), seed_completed(org, name="Alan Turing")
    db[dbmod.PROFILES].delete_one({"attempt_id": alan.id})  # completed, its profile not computed yet
    at = org.open_page("app_pages/compare.py", attempts=f"{ada.id},{alan.id}")
    assert not at.exception
    assert f"No computed profile yet for\\: {alan.id}" in at.error[0].value
    assert not at.dataframe
