"""recruiter.assessment_forms: the issue form's checks, without Streamlit."""

from __future__ import annotations

import pytest

from recruiter import assessment_forms as forms
from recruiter.assessment_forms import FormProblems


def test_a_candidate_is_trimmed_and_normalised():
    candidate = forms.candidate_info(
        name="  Grace   Hopper ",
        email=" Grace@Example.COM ",
        phone=" +1 (555) 010-0000 ",
        position=" Data  Analyst ",
        resume_url=" https://cv.example/grace ",
    )
    assert candidate.model_dump() == {
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+1 (555) 010-0000",
        "position": "Data Analyst",
        "resume_url": "https://cv.example/grace",
    }


def test_optional_fields_may_stay_empty():
    candidate = forms.candidate_info(name="Ada", email="ada@example.com")
    assert (candidate.phone, candidate.position, candidate.resume_url) == (None, "", None)


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"name": " ", "email": ""}, ["Name: is required", "Email: is required"]),
        ({"email": "ada@localhost"}, ["Email: is not an email address"]),
        ({"phone": "call me maybe"}, ["Phone: use digits, spaces and + ( ) - . / only"]),
        (
            {"resume_url": "javascript:alert(document.cookie)"},
            ["Resume URL: must be a web address starting with http:// or https://"],
        ),
        (
            {"resume_url": "ftp://files.example/cv.pdf"},
            ["Resume URL: must be a web address starting with http:// or https://"],
        ),
        ({"name": "x" * 201}, ["Name: String should have at most 200 characters"]),
    ],
)
def test_candidate_problems(fields, problems):
    with pytest.raises(FormProblems) as caught:
        forms.candidate_info(**{"name": "Ada", "email": "ada@example.com", **fields})
    assert caught.value.problems == problems


def test_task_choice():
    assert forms.task_choice(by_hand=True, task_ids=["a", "b"]) == forms.TaskChoice(task_ids=["a", "b"])
    assert forms.task_choice(by_hand=False, sample=3, category="", difficulty="hard") == forms.TaskChoice(
        sample=3, difficulty="hard"
    )
    with pytest.raises(FormProblems, match="pick at least one task"):
        forms.task_choice(by_hand=True, task_ids=[])
    with pytest.raises(FormProblems, match="sample at least one task"):
        forms.task_choice(by_hand=False, sample=0)


@pytest.mark.parametrize("days", [0, 91, None])
def test_expiry_days_out_of_range(days):
    with pytest.raises(FormProblems, match="between 1 and 90 days"):
        forms.expiry_days(days)


def test_expiry_days():
    assert forms.expiry_days(1) == 1 and forms.expiry_days(90) == 90


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://cv.example/a", True),
        ("http://cv.example", True),
        ("https://", False),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("https://cv.example/a b", False),
    ],
)
def test_is_web_url(url, ok):
    assert forms.is_web_url(url) is ok


@pytest.mark.parametrize("email", ["bad", "ada@", "ada@localhost", "a b@example.com"])
def test_a_candidate_email_is_checked_wherever_candidates_are_made(email):
    """The model refuses it too, so no way of issuing (form, CLI, code) stores one."""
    from pydantic import ValidationError

    from hiremate.models import CandidateInfo

    with pytest.raises(ValidationError, match="is not an email address"):
        CandidateInfo(name="Ada", email=email)
    assert CandidateInfo(name="Ada", email=" Ada@Example.COM ").email == "ada@example.com"


def test_a_stored_candidate_from_before_the_rule_can_still_be_read():
    from bson import ObjectId

    from hiremate.models import TaskAttempt

    doc = {"token_hash": "x", "candidate_info": {"name": "Ada", "email": "Not An Email"}}
    doc |= {"task_ids": [ObjectId()], "expires_at": "2026-01-01T00:00:00Z", "created_at": "2026-01-01T00:00:00Z"}
    doc |= {"updated_at": "2026-01-01T00:00:00Z"}
    assert TaskAttempt.from_doc(doc).candidate_info.email == "not an email"
