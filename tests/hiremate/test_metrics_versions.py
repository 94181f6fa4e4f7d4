"""Rule versions: "1.0.0" recomputes byte for byte what the code computed
before "1.1.0" existed, and "1.1.0" what it computed before "1.2.0" existed
(the frozen fixtures); network_wait events are read by 1.0.0 as if absent."""

from __future__ import annotations

import json

import pytest

from hiremate.metrics import LATEST, VERSION_1_0, VERSIONS, compute_metrics
from hiremate.skills import interpret
from tests.hiremate import metrics_v1_1_cases
from tests.hiremate.metrics_v1_cases import COMPUTED_AT, FIXTURE, case_inputs, loads, metrics_bytes, profile_bytes

CASES = loads(FIXTURE.read_text())
CASES_1_1 = loads(metrics_v1_1_cases.FIXTURE.read_text())


def test_the_fixture_is_varied():
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)) >= 30
    profiles = [json.loads(case["expected_profile"]) for case in CASES]
    assert {p["thinking_style"]["primary"] for p in profiles} >= {"analytical", "intuitive", "methodical"}
    assert {p["decision_pattern"]["speed"] for p in profiles} == {"fast", "moderate", "deliberate"}
    assert {p["risk_orientation"]["preference"] for p in profiles} == {"risk_averse", "balanced", "risk_tolerant"}
    assert any("idle or away" in c for p in profiles for c in p["considerations"])
    assert any("Revisits choices often" in c for p in profiles for c in p["considerations"])


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_version_1_0_0_is_byte_identical_to_the_frozen_output(case):
    attempt, tasks, events = case_inputs(case)
    metrics = compute_metrics(attempt, tasks, events, computed_at=COMPUTED_AT, version=VERSION_1_0)
    assert metrics_bytes(metrics) == case["expected_metrics"]
    # interpret reads the version from the document; accommodations do not exist in 1.0.0
    profile = interpret(metrics, generated_at=COMPUTED_AT)
    assert profile_bytes(profile) == case["expected_profile"]


def test_the_1_1_0_fixture_covers_what_1_1_0_added():
    names = [case["name"] for case in CASES_1_1]
    assert len(names) == len(set(names)) >= 80
    attempts = [case["attempt"] for case in CASES_1_1]
    assert any((a.get("accommodations") or {}).get("untimed") for a in attempts)
    assert any((a.get("accommodations") or {}).get("assistive_technology") for a in attempts)
    assert any((a.get("accommodations") or {}).get("time_multiplier") for a in attempts)
    assert any(e["event_type"] == "network_wait" for case in CASES_1_1 for e in case["events"])
    assert {json.loads(c["expected_profile"])["version"] for c in CASES_1_1} == {"1.1.0"}


@pytest.mark.parametrize("case", CASES_1_1, ids=[case["name"] for case in CASES_1_1])
def test_version_1_1_0_is_byte_identical_to_the_frozen_output(case):
    attempt, tasks, events = case_inputs(case)
    metrics = compute_metrics(attempt, tasks, events, computed_at=COMPUTED_AT, version="1.1.0")
    assert metrics_bytes(metrics) == case["expected_metrics"]
    profile = interpret(metrics, generated_at=COMPUTED_AT, accommodations=attempt.accommodations)
    assert profile_bytes(profile) == case["expected_profile"]


@pytest.mark.parametrize("case", CASES[-8:], ids=[case["name"] for case in CASES[-8:]])
def test_version_1_0_0_ignores_network_wait_and_accommodations(case):
    from hiremate.models import Accommodations

    attempt, tasks, events = case_inputs(case)
    attempt = attempt.model_copy(
        update={"accommodations": Accommodations(time_multiplier=2.0, untimed=True, assistive_technology=True)}
    )
    # a wait after every event, as a new page might send them
    with_waits = metrics_v1_1_cases.with_waits(events)
    metrics = compute_metrics(attempt, tasks, with_waits, computed_at=COMPUTED_AT, version=VERSION_1_0)
    assert metrics_bytes(metrics) == case["expected_metrics"]
    profile = interpret(metrics, generated_at=COMPUTED_AT, accommodations=attempt.accommodations)
    assert profile_bytes(profile) == case["expected_profile"]


def test_versions():
    assert VERSIONS == ("1.0.0", "1.1.0", "1.2.0")
    assert LATEST == "1.2.0"
    attempt, tasks, events = case_inputs(CASES[0])
    assert compute_metrics(attempt, tasks, events, computed_at=COMPUTED_AT).version == "1.2.0"
    with pytest.raises(ValueError, match="unknown rule version"):
        compute_metrics(attempt, tasks, events, computed_at=COMPUTED_AT, version="2.0.0")
