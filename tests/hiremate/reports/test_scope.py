"""Every public function of hiremate.reports, across its modules, sees
only the user's organisation."""

from __future__ import annotations

import pytest

from hiremate import db as dbmod
from hiremate import reports
from tests.support.reports_helpers import bulk_seed, org_fixture, other_org_fixture, seed, tasks_fixture  # noqa: F401


def test_another_organisations_data_never_appears(org, other_org, tasks):
    mine = [seed(org, tasks, name="Mine One"), seed(org, tasks, name="Mine Two")]
    theirs = [
        seed(other_org, tasks, name="Theirs One", email="ada@example.com", position="Secret role"),
        seed(other_org, tasks, name="Theirs Two", email="theirs@example.com"),
    ]
    bulk_seed(other_org, 20)
    their_ids = {str(a.id) for a in theirs} | {
        str(doc["_id"]) for doc in org.db[dbmod.ATTEMPTS].find({"organization_id": other_org.organization_id})
    }

    frame, total = reports.candidates_page(org, limit=200, people=False)  # both attempts, one email
    assert total == 2 and set(frame["attempt_id"]) == {str(a.id) for a in mine}
    for label in ("methodical", "analytical", "intuitive", "exploratory"):
        assert not set(reports.candidates_page(org, thinking_style=label)[0]["attempt_id"]) & their_ids
    assert reports.candidates_page(org, search="Theirs")[1] == 0
    assert reports.positions(org) == ["Analyst"]
    assert all(s.attempt_id not in their_ids for s in reports.attempts_for_email(org, "ada@example.com"))
    assert {s.attempt_id for s in reports.completed_candidates(org)} == {str(a.id) for a in mine}
    assert reports.profile_bundle(org, theirs[0].id) is None
    with pytest.raises(ValueError):
        reports.compare_frame(org, [mine[0].id, theirs[0].id])
    for single_attempt_export in (reports.attempt_metrics_csv, reports.attempt_events_csv):
        with pytest.raises(ValueError, match="no attempt"):
            single_attempt_export(org, theirs[0].id)
        with pytest.raises(ValueError, match="no attempt"):
            single_attempt_export(org, "junk")
    assert not org.db[dbmod.AUDIT_LOG].find_one({"action": "export", "target_id": str(theirs[0].id)})
    exports = [
        reports.candidates_csv(org),
        reports.per_task_metrics_csv(org),
        reports.events_csv(org),
        reports.compare_csv(org, [a.id for a in mine]),
    ]
    for data in exports:
        text = data.decode("utf-8-sig")
        assert "Theirs" not in text and "Secret role" not in text and "theirs@example.com" not in text
        assert not any(attempt_id in text for attempt_id in their_ids)
