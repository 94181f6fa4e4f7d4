"""hiremate.impact: rates and impact ratios against hand-computed tables
(LL144's worked example included), intersectional groups, the 2% rule,
Fisher's test against a reference value, unknowns counted apart, the
under-30 warning; then the loader and the command line on the real store
(periods in the organisation's zone, another organisation's data left out,
admins only, audited)."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from hiremate import auth, impact
from hiremate import db as dbmod
from hiremate.errors import ReportError
from hiremate.ops import simulate
from hiremate.ops.sample_impact import store_decision, store_self_id
from hiremate.scope import Scope
from tests.hiremate.ops.test_cli import env, hiremate  # noqa: F401  (fixtures: the CLI in a subprocess)

META = impact.ReportMeta(organization="Acme", generated_at=datetime(2026, 12, 1, tzinfo=UTC))


def people(*groups: tuple[str, str, int, int], **columns: object) -> list[dict]:
    """Rows for (sex, race, how many, how many of them selected)."""
    rows = []
    for sex, race, n, selected in groups:
        rows += [{"sex": sex, "race": race, "selected": i < selected, **columns} for i in range(n)]
    return rows


def build(rows: list[dict], **kwargs) -> impact.ImpactReport:
    frame = pd.DataFrame(rows)
    frame["attempt_id"] = [str(i) for i in range(len(frame))]
    return impact.build_report(frame, META, **kwargs)


def table(report: impact.ImpactReport, measure: str, breakdown: str) -> impact.Table:
    [found] = [t for t in report.tables if t.measure == measure and t.breakdown == breakdown]
    return found


def by_group(t: impact.Table) -> dict[tuple[str, ...], impact.GroupRow]:
    return {row.codes: row for row in t.rows}


# ---------------------------------------------------------------- hand-computed tables


def test_ll144_worked_example_a_category_at_44_7_against_54_3_is_0_82():
    report = build(people(("male", "white", 1000, 543), ("female", "white", 1000, 447)))
    rows = by_group(table(report, "selected", "sex"))
    assert rows[("male",)].rate == pytest.approx(0.543) and rows[("male",)].ratio == 1.0
    assert rows[("female",)].rate == pytest.approx(0.447)
    assert round(rows[("female",)].ratio, 2) == 0.82
    assert not rows[("female",)].below_threshold  # 0.82 is above the four-fifths screen


def test_ratios_against_a_hand_computed_table_with_the_flag_below_0_8():
    # by race: white 40/80 = 0.5, black 12/40 = 0.3 (0.6: flagged), asian 18/40 = 0.45 (0.9)
    report = build(
        people(
            ("male", "white", 40, 20),
            ("female", "white", 40, 20),
            ("male", "black", 20, 6),
            ("female", "black", 20, 6),
            ("male", "asian", 20, 9),
            ("female", "asian", 20, 9),
        )
    )
    rows = by_group(table(report, "selected", "race_ethnicity"))
    assert {codes: (row.count, row.positives) for codes, row in rows.items()} == {
        ("white",): (80, 40),
        ("black",): (40, 12),
        ("asian",): (40, 18),
    }
    assert rows[("white",)].ratio == 1.0
    assert rows[("black",)].ratio == pytest.approx(0.6) and rows[("black",)].below_threshold
    assert rows[("asian",)].ratio == pytest.approx(0.9) and not rows[("asian",)].below_threshold
    assert [(t.measure, t.breakdown, r.codes) for t, r in report.flagged] == [
        ("selected", "race_ethnicity", ("black",)),
        ("selected", "intersectional", ("female", "black")),
        ("selected", "intersectional", ("male", "black")),
    ]


def test_intersectional_groups_are_sex_and_race_together():
    # female×white 10/20 = 0.5, female×black 2/20 = 0.1, male×white 16/20 = 0.8, male×black 12/20 = 0.6
    report = build(
        people(
            ("female", "white", 20, 10),
            ("female", "black", 20, 2),
            ("male", "white", 20, 16),
            ("male", "black", 20, 12),
        )
    )
    rows = by_group(table(report, "selected", "intersectional"))
    assert {codes: row.rate for codes, row in rows.items()} == pytest.approx(
        {("female", "white"): 0.5, ("female", "black"): 0.1, ("male", "white"): 0.8, ("male", "black"): 0.6}
    )
    assert {codes: round(row.ratio, 4) for codes, row in rows.items()} == {
        ("female", "white"): 0.625,
        ("female", "black"): 0.125,
        ("male", "white"): 1.0,
        ("male", "black"): 0.75,
    }
    assert rows[("female", "black")].group == "Female × Black or African American (not Hispanic or Latino)"
    assert report.counts["intersectional"] == {
        "female|white": 20,
        "female|black": 20,
        "male|white": 20,
        "male|black": 20,
        "unknown": 0,
    }
    # by sex alone the female rate is 12/40 = 0.3 against 28/40 = 0.7
    assert by_group(table(report, "selected", "sex"))[("female",)].ratio == pytest.approx(0.3 / 0.7)


def test_fishers_test_against_the_rest_matches_the_reference_value():
    # white: 8 of 10 selected; the rest (black): 1 of 6. Two-sided p of [[8, 2], [1, 5]] = 0.034965...
    report = build(people(("male", "white", 10, 8), ("male", "black", 6, 1)))
    rows = by_group(table(report, "selected", "race_ethnicity"))
    assert rows[("white",)].fisher_p == pytest.approx(0.034965034965, rel=1e-9)
    assert rows[("black",)].fisher_p == pytest.approx(0.034965034965, rel=1e-9)
    # one known group only: nothing to test it against
    assert by_group(table(report, "selected", "sex"))[("male",)].fisher_p is None


def test_a_group_under_2_percent_is_left_out_of_the_ratios_with_its_reason_and_counts_shown():
    # 'another': 1 of 100 (1%), selected, so the highest rate; the ratios use male's 0.5 instead
    report = build(people(("male", "white", 60, 30), ("female", "white", 39, 15), ("another", "white", 1, 1)))
    rows = by_group(table(report, "selected", "sex"))
    small = rows[("another",)]
    assert (small.count, small.positives, small.rate, small.ratio) == (1, 1, 1.0, None)
    assert "fewer than 2% of the 100 people" in small.excluded and not small.below_threshold
    assert rows[("male",)].ratio == 1.0 and rows[("female",)].ratio == pytest.approx((15 / 39) / 0.5)
    assert report.counts["sex"]["another"] == 1
    assert any("under 2%" in w and "Another sex or gender" in w for w in report.warnings)
    # and nobody is left out when the share is set to 0
    kept = by_group(
        table(
            build(people(("male", "white", 60, 30), ("another", "white", 1, 1)), small_group_share=0), "selected", "sex"
        )
    )
    assert kept[("another",)].excluded is None and kept[("male",)].ratio == 0.5


def test_unknowns_are_counted_apart_and_left_out_of_ratios_and_tests():
    report = build(
        people(
            ("male", "white", 30, 15),
            ("female", "white", 30, 15),
            ("unknown", "white", 7, 7),
            ("male", "unknown", 3, 0),
        )
    )
    sex = table(report, "selected", "sex")
    assert sex.unknown == 7 and sex.people == 70
    assert {row.codes for row in sex.rows} == {("male",), ("female",)}
    # male: 15 of 30 + 0 of 3 whose race is unknown (known sex counts here); female: 15 of 30
    assert by_group(sex)[("female",)].ratio == 1.0
    assert by_group(sex)[("male",)].ratio == pytest.approx((15 / 33) / 0.5)
    race = table(report, "selected", "race_ethnicity")
    assert race.unknown == 3
    assert report.counts["sex"]["unknown"] == 7 and report.counts["race_ethnicity"]["unknown"] == 3
    assert report.counts["intersectional"]["unknown"] == 10
    assert table(report, "selected", "intersectional").unknown == 10
    summary = report.to_markdown()
    assert "* **Unknown sex:** 7" in summary and "* **Unknown race ethnicity:** 3" in summary


def test_people_without_a_decision_are_not_in_the_selection_rates_but_are_in_the_labels():
    rows = people(("male", "white", 30, 15), ("female", "white", 30, 6), decision_speed="fast")
    rows += [{"sex": "female", "race": "white", "selected": None, "decision_speed": "moderate"}] * 10
    report = build(rows)
    assert (report.people, report.decided, report.selected) == (70, 60, 21)
    female = by_group(table(report, "selected", "sex"))[("female",)]
    assert (female.count, female.positives) == (30, 6)
    fast = by_group(table(report, "decision_speed=fast", "sex"))
    assert (fast[("female",)].count, fast[("female",)].positives) == (40, 30)
    assert fast[("female",)].ratio == pytest.approx(0.75) and fast[("female",)].below_threshold


def test_label_shares_leave_out_profiles_without_that_dimension():
    rows = people(("male", "white", 20, 10), thinking_style="analytical")
    rows += people(("female", "white", 10, 5), thinking_style="analytical")
    rows += people(("female", "white", 10, 5), thinking_style="methodical")
    rows += people(("female", "white", 5, 2), thinking_style=None)  # rule 1.2: too little evidence
    report = build(rows)
    analytical = by_group(table(report, "thinking_style=analytical", "sex"))
    assert analytical[("female",)].count == 20 and analytical[("female",)].rate == 0.5
    assert analytical[("female",)].ratio == 0.5 and analytical[("male",)].ratio == 1.0
    assert {t.measure for t in report.section("label")} == {"thinking_style=analytical", "thinking_style=methodical"}


def test_scoring_rate_is_the_share_above_the_whole_samples_median():
    # figures 1..40 and three 100s (the unknowns'): 43 values, median 22; male have 21..40, female 1..20
    rows = [{"sex": "male", "race": "white", "selected": True, "hesitation_seconds": float(v)} for v in range(21, 41)]
    rows += [{"sex": "female", "race": "white", "selected": True, "hesitation_seconds": float(v)} for v in range(1, 21)]
    rows += [{"sex": "unknown", "race": "white", "selected": True, "hesitation_seconds": 100.0}] * 3
    rows += [{"sex": "female", "race": "white", "selected": True, "hesitation_seconds": None}]
    report = build(rows)
    t = table(report, "hesitation_seconds>median", "sex")
    assert t.median == 22.0
    rows_ = by_group(t)
    assert (rows_[("male",)].positives, rows_[("male",)].count) == (18, 20)  # 21 and 22 are not above 22
    assert (rows_[("female",)].positives, rows_[("female",)].count) == (0, 20)
    assert rows_[("female",)].ratio == 0.0 and rows_[("female",)].below_threshold
    assert t.unknown == 3


# ---------------------------------------------------------------- too little data


def test_under_30_people_warns_and_says_it_is_not_sufficient():
    report = build(people(("male", "white", 10, 5), ("female", "white", 10, 2)))
    assert not report.sufficient and "only 20" in report.reason
    assert any("fewer than 30" in w for w in report.warnings)
    assert report.as_json()["sufficient"] is False


def test_json_with_no_data_at_all_is_one_document_saying_so():
    report = impact.build_report(pd.DataFrame(columns=list(impact.COLUMNS)), META)
    document = json.loads(json.dumps(report.as_json()))
    assert document["sufficient"] is False and "only 0" in document["reason"]
    assert document["people"] == 0 and all(not t["rows"] for t in document["tables"])
    assert "Impact report" in report.to_markdown() and report.to_csv().startswith("section,")


def test_renderings_name_no_attempt():
    rows = people(("male", "white", 20, 10), ("female", "black", 20, 4))
    frame = pd.DataFrame(rows)
    frame["attempt_id"] = [f"attempt-{i:04d}" for i in range(len(frame))]
    report = impact.build_report(frame, META)
    for text in (report.to_markdown(), report.to_csv(), json.dumps(report.as_json())):
        assert "attempt-0" not in text


# ---------------------------------------------------------------- the store


def org_with_attempts(db, name: str, count: int, seed: int):
    organization = auth.create_organization(db, name)
    rng = random.Random(seed)
    tasks = simulate.make_tasks(rng, 3, organization_id=organization.id)
    attempts = simulate.seed_completed_attempts(
        db, organization_id=organization.id, tasks=tasks, count=count, rng=rng, with_events=False
    )
    return organization, [attempt.id for attempt in attempts]


def admin_scope(db, organization) -> Scope:
    return Scope(db, organization.id, None, is_admin=True, via="cli")


def test_the_loader_reads_groups_decisions_labels_and_figures_of_this_organisation_only(db):
    acme, ids = org_with_attempts(db, "Acme", 4, 1)
    globex, other = org_with_attempts(db, "Globex", 3, 2)
    store_self_id(db, acme.id, ids[0], "female", "asian")
    store_self_id(db, acme.id, ids[1], "prefer_not_to_say", "white")
    store_decision(db, acme.id, ids[0], "advance")
    store_decision(db, acme.id, ids[1], "reject")
    for attempt_id in other:  # another organisation's answers and decisions
        store_self_id(db, globex.id, attempt_id, "female", "asian")
        store_decision(db, globex.id, attempt_id, "advance")
    rows = impact.load_rows(admin_scope(db, acme)).set_index("attempt_id")
    assert sorted(rows.index) == sorted(map(str, ids))
    assert rows.loc[str(ids[0]), ["sex", "race", "selected"]].tolist() == ["female", "asian", True]
    assert rows.loc[str(ids[1]), ["sex", "race", "selected"]].tolist() == ["unknown", "white", False]
    assert rows.loc[str(ids[2]), ["sex", "race"]].tolist() == ["unknown", "unknown"]
    assert rows.loc[str(ids[2]), "selected"] is None
    profile = db[dbmod.PROFILES].find_one({"attempt_id": ids[0]})
    assert rows.loc[str(ids[0]), "decision_speed"] == profile["decision_pattern"]["speed"]
    metrics = db[dbmod.METRICS].find_one({"attempt_id": ids[0]})
    firsts = [task["first_decision_speed_seconds"] for task in metrics["per_task_metrics"]]
    assert rows.loc[str(ids[0]), "first_decision_seconds"] == pytest.approx(sum(firsts) / len(firsts))
    report = impact.impact_report(admin_scope(db, acme))
    assert report.people == 4 and report.decided == 2 and report.counts["sex"]["female"] == 1


def test_the_period_is_whole_days_in_the_organisations_zone_and_the_position_exact(db):
    acme, ids = org_with_attempts(db, "Acme", 3, 3)
    db[dbmod.ORGANIZATIONS].update_one({"_id": acme.id}, {"$set": {"settings.time_zone": "America/New_York"}})
    times = [
        datetime(2026, 3, 1, 4, 59, tzinfo=UTC),  # 28 Feb, 23:59 in New York
        datetime(2026, 3, 2, 3, 0, tzinfo=UTC),  # 1 March, 22:00 in New York
        datetime(2026, 3, 2, 5, 0, tzinfo=UTC),  # 2 March, 00:00 in New York
    ]
    for attempt_id, when in zip(ids, times, strict=True):
        db[dbmod.PROFILES].update_one(
            {"attempt_id": attempt_id}, {"$set": {"completed_at": when, "position": "Analyst"}}
        )
    db[dbmod.PROFILES].update_one({"attempt_id": ids[0]}, {"$set": {"position": "Engineer"}})
    scope = admin_scope(db, acme)
    one_day = impact.load_rows(scope, period_from=date(2026, 3, 1), period_to=date(2026, 3, 1))
    assert list(one_day["attempt_id"]) == [str(ids[1])]
    assert len(impact.load_rows(scope, period_from=date(2026, 3, 1))) == 2
    assert len(impact.load_rows(scope, period_to=date(2026, 3, 1))) == 2
    assert sorted(impact.load_rows(scope, position="Analyst")["attempt_id"]) == sorted(map(str, ids[1:]))
    report = impact.impact_report(scope, period_from=date(2026, 3, 1), period_to=date(2026, 3, 2))
    assert report.meta.time_zone == "America/New_York" and report.people == 2
    with pytest.raises(ReportError, match="start is after its end"):
        impact.impact_report(scope, period_from=date(2026, 3, 2), period_to=date(2026, 3, 1))


def test_only_admins_get_the_report_and_each_report_is_audited_with_counts_only(db):
    acme, ids = org_with_attempts(db, "Acme", 2, 4)
    store_self_id(db, acme.id, ids[0], "female", "black")
    with pytest.raises(ReportError, match="Only an admin"):
        impact.impact_report(Scope(db, acme.id, None, is_admin=False))
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "impact.reported"}) == 0
    impact.impact_report(admin_scope(db, acme))
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "impact.reported"})
    assert entry["organization_id"] == acme.id and entry["target_id"] == str(acme.id)
    assert entry["details"] == {"via": "cli", "rows": 2}


# ---------------------------------------------------------------- the command line


def test_cli_json_with_too_little_data_is_one_document_on_stdout(db, hiremate):  # noqa: F811
    acme, ids = org_with_attempts(db, "Acme", 2, 5)
    org_with_attempts(db, "Globex", 2, 6)
    store_self_id(db, acme.id, ids[0], "female", "black")
    store_decision(db, acme.id, ids[0], "advance")
    result = hiremate("impact-report", "--org", acme.slug, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # exactly one document: json.loads refuses anything after it
    assert document["sufficient"] is False and "at least 30" in document["reason"]
    assert document["people"] == 2 and document["decided"] == 1  # Globex's attempts are not counted
    assert document["counts"]["sex"]["female"] == 1 and document["counts"]["sex"]["unknown"] == 1
    assert str(ids[0]) not in result.stdout
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "impact.reported"})
    assert entry["details"] == {"via": "cli", "rows": 2}


def test_cli_markdown_and_csv_and_a_bad_date(db, hiremate):  # noqa: F811
    acme, _ = org_with_attempts(db, "Acme", 1, 7)
    markdown = hiremate("impact-report", "--org", "Acme", "--from", "2020-01-01", "--to", "2099-12-31")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# Impact report") and "2020-01-01 to 2099-12-31" in markdown.stdout
    csv_ = hiremate("impact-report", "--org", acme.slug, "--format", "csv")
    assert csv_.returncode == 0 and csv_.stdout.startswith("section,measure,")
    bad = hiremate("impact-report", "--org", acme.slug, "--from", "1 March")
    assert bad.returncode == 2 and "not a date" in bad.stderr and bad.stdout == ""
