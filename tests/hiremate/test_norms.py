"""Norms against the embedded store: kept up to date as profiles are stored,
shown only for groups of 20 or more others, the same rule version only,
accommodated attempts left out, one organisation never counted in another's,
and rebuilt by recount to the same figures; the per-group histograms give
exactly the numbers counting every point of the group gives."""

from __future__ import annotations

import random

from bson import ObjectId

from hiremate import attempt_counts, erasure, norms, profiles
from hiremate import db as dbmod
from hiremate.models import ComputedMetrics, SkillProfile
from hiremate.ops import simulate
from hiremate.scope import VIA_CLI, Scope


def seed(db, organization_id, tasks, count, seed=1):
    return simulate.seed_completed_attempts(
        db,
        organization_id=organization_id,
        tasks=tasks,
        count=count,
        rng=random.Random(seed),
        tasks_per_attempt=len(tasks),
    )


def metrics_of(db, attempt):
    return ComputedMetrics.from_doc(db[dbmod.METRICS].find_one({"attempt_id": attempt.id}))


def test_norms_appear_only_from_20_others_and_say_the_group_size(db):
    org = ObjectId()
    tasks = simulate.make_tasks(random.Random(3), 2, organization_id=org)
    first = seed(db, org, tasks, 20)
    mine = metrics_of(db, first[0])
    below = norms.norms_for(db, org, mine)
    assert [n.group for n in below] == [19, 19] and not any(n.shown for n in below)

    seed(db, org, tasks, 1, seed=2)
    shown = norms.norms_for(db, org, mine)
    assert [n.group for n in shown] == [20, 20] and all(n.shown for n in shown)
    line = shown[0].lines[0]
    assert line.sentence().startswith("a faster first decision than ") and line.sentence().endswith(
        "% of 20 candidates on this task"
    )
    # The percentage is of the others strictly beyond this candidate, counted by hand.
    others = [
        ComputedMetrics.from_doc(doc).per_task_metrics[0].first_decision_speed_seconds
        for doc in db[dbmod.METRICS].find({"attempt_id": {"$ne": first[0].id}})
    ]
    mine_value = mine.per_task_metrics[0].first_decision_speed_seconds
    assert line.percent == round(100 * sum(v > mine_value for v in others) / len(others))


def test_other_organisations_other_rules_and_accommodations_are_left_out(db):
    org, other = ObjectId(), ObjectId()
    tasks = simulate.make_tasks(random.Random(4), 1, organization_id=org)
    attempts = seed(db, org, tasks, 21)
    seed(db, other, tasks, 30, seed=9)  # the same tasks in another organisation: never counted
    mine = metrics_of(db, attempts[0])
    assert norms.norms_for(db, org, mine)[0].group == 20

    # An accommodation takes the attempt out of everyone's norms when it is recomputed.
    db[dbmod.ATTEMPTS].update_one({"_id": attempts[1].id}, {"$set": {"accommodations": {"untimed": True}}})
    profiles.compute_and_store(db, attempts[1].id)
    assert norms.norms_for(db, org, mine)[0].group == 19
    # A profile recomputed under older rules counts only among profiles of those rules.
    profiles.compute_and_store(db, attempts[2].id, version="1.0.0")
    assert norms.norms_for(db, org, mine)[0].group == 18
    assert norms.norms_for(db, org, metrics_of(db, attempts[2]))[0].group == 0


def test_recount_rebuilds_the_same_norms(db):
    org = ObjectId()
    tasks = simulate.make_tasks(random.Random(5), 1, organization_id=org)
    attempts = seed(db, org, tasks, 22)
    mine = metrics_of(db, attempts[0])
    before, counted = norms.norms_for(db, org, mine), histograms(db, org)
    assert counted  # kept by $inc as the profiles were stored
    db[dbmod.NORM_POINTS].delete_many({"organization_id": org})
    db[dbmod.NORM_COUNTS].delete_many({"organization_id": org})
    assert norms.rebuild(db, org) == 22
    assert norms.norms_for(db, org, mine) == before
    assert histograms(db, org) == counted


def test_a_bulk_load_left_uncounted_and_recounted_once_counts_what_counting_each_batch_does(db):
    org = ObjectId()
    tasks = simulate.make_tasks(random.Random(5), 2, organization_id=org)

    def load(counted):
        simulate.seed_completed_attempts(
            db, organization_id=org, tasks=tasks, count=30, rng=random.Random(8), tasks_per_attempt=2,
            batch_size=12, counted=counted,
        )  # fmt: skip

    load(counted=True)
    counted = histograms(db, org), attempt_counts.by_status(db, org), attempt_counts.duration_histogram(db, org)
    assert all(counted)
    ids = [doc["_id"] for doc in db[dbmod.ATTEMPTS].find({"organization_id": org}, {"_id": 1})]
    for name in (dbmod.EVENTS, dbmod.METRICS, dbmod.PROFILES, dbmod.NORM_POINTS):
        db[name].delete_many({"attempt_id": {"$in": ids}})
    for name in (dbmod.ATTEMPTS, dbmod.NORM_COUNTS, dbmod.ATTEMPT_COUNTS):
        db[name].delete_many({"organization_id": org})

    load(counted=False)  # the same draws: the same attempts, events and points
    assert db[dbmod.NORM_POINTS].count_documents({"organization_id": org}) >= 30
    assert histograms(db, org) == {} and db[dbmod.ATTEMPT_COUNTS].find_one({"organization_id": org}) is None
    norms.recount(db, org)
    attempt_counts.recount(db, org)
    assert (
        histograms(db, org),
        attempt_counts.by_status(db, org),
        attempt_counts.duration_histogram(db, org),
    ) == counted


# ---------------------------------------------------------------- the histograms against every point


def full_group(db, organization_id, metrics):
    """The norms as counted from every point of each group (how they were computed before the histograms)."""
    out = []
    for item in metrics.per_task_metrics:
        group = {"organization_id": organization_id, "task_id": item.task_id, "version": metrics.version}
        points = list(db[dbmod.NORM_POINTS].find(group))
        others = sum(1 for point in points if point["attempt_id"] != metrics.attempt_id)
        lines = []
        if others >= norms.MIN_GROUP:
            for figure, (field, direction, _) in norms.FIGURES.items():
                value = float(getattr(item, field))
                beyond = sum(1 for p in points if (p[figure] > value if direction == "lower" else p[figure] < value))
                lines.append(norms.NormLine(figure, round(100 * beyond / others), others))
        out.append(norms.TaskNorms(item.task_id, others, lines))
    return out


def stored_pairs(db, attempts):
    ids = [attempt.id for attempt in attempts]
    profiles_by = {
        doc["attempt_id"]: SkillProfile.from_doc(doc) for doc in db[dbmod.PROFILES].find({"attempt_id": {"$in": ids}})
    }
    return [
        (ComputedMetrics.from_doc(doc), profiles_by[doc["attempt_id"]])
        for doc in db[dbmod.METRICS].find({"attempt_id": {"$in": ids}})
    ]


# Few distinct values, so ties are everywhere; bucket edges, values far out and below zero included.
SECONDS = [0.0, 0.0, 0.4999, 0.5, 1.25, 1.25, 9.9999, 10.0, 10.0001, 59.5, 60.0, 61.2345, 299.9, 7200.0, 90000.5, -1.0]
WHOLE = [0, 0, 1, 1, 2, 3, 5, 40, 41, 300]


def rewritten(rng, pair, version=None):
    """The pair as a recompute that found other figures would store it."""
    metrics, profile = pair
    items = [
        item.model_copy(
            update={
                "first_decision_speed_seconds": rng.choice(SECONDS),
                "hesitation_seconds": rng.choice(SECONDS),
                "decision_change_count": rng.choice(WHOLE),
                "reasoning_word_count": rng.choice(WHOLE),
            }
        )
        for item in metrics.per_task_metrics
    ]
    return metrics.model_copy(update={"per_task_metrics": items, "version": version or metrics.version}), profile


def histograms(db, organization_id):
    """The organisation's histograms without what counts nothing (decrements leave zeros), meta aside."""

    def pruned(value):
        if isinstance(value, dict):
            kept = {key: pruned(item) for key, item in value.items()}
            return {key: item for key, item in kept.items() if item not in (0, {})}
        return value

    docs = db[dbmod.NORM_COUNTS].find({"organization_id": organization_id})
    return {doc["_id"]: pruned(doc) for doc in docs if doc["kind"] != "meta" and doc.get("n", 1)}


def test_the_histograms_give_the_numbers_every_point_gives_through_ties_recomputes_erasure_and_versions(
    db, monkeypatch
):
    monkeypatch.setattr(norms, "MIN_GROUP", 3)  # so the small groups (another version) show lines too
    rng = random.Random(11)
    org, other = ObjectId(), ObjectId()
    tasks = simulate.make_tasks(random.Random(6), 3, organization_id=org)
    attempts = seed(db, org, tasks, 30, seed=12)
    seed(db, other, tasks, 8, seed=13)  # another organisation, the same tasks: never counted
    pairs = {pair[0].attempt_id: pair for pair in stored_pairs(db, attempts)}

    # Recomputes that replace every point with tie-heavy figures, then half of them again.
    current = {attempt_id: rewritten(rng, pair) for attempt_id, pair in pairs.items()}
    norms.record(db, list(current.values()))
    again = rng.sample(sorted(current), 15)
    current |= {attempt_id: rewritten(rng, current[attempt_id]) for attempt_id in again}
    norms.record(db, [current[attempt_id] for attempt_id in again])
    # Some recomputed under older rules: their own group.
    older = again[:4]
    current |= {attempt_id: rewritten(rng, current[attempt_id], version="1.0.0") for attempt_id in older}
    norms.record(db, [current[attempt_id] for attempt_id in older])
    # Accommodations take two out of everyone's norms.
    accommodated = [attempt_id for attempt_id in sorted(current) if attempt_id not in older][:2]
    db[dbmod.ATTEMPTS].update_many({"_id": {"$in": accommodated}}, {"$set": {"accommodations": {"untimed": True}}})
    norms.record(db, [current[attempt_id] for attempt_id in accommodated])
    # Two erased through the one deletion path.
    erased = [attempt_id for attempt_id in sorted(current) if attempt_id not in older + accommodated][:2]
    erasure.erase_attempts(Scope(db, org, via=VIA_CLI), erased, action=None)

    checked = 0
    for attempt_id, (metrics, _) in current.items():
        if attempt_id in erased:
            continue
        expected = full_group(db, org, metrics)
        assert norms.norms_for(db, org, metrics) == expected
        checked += sum(len(task.lines) for task in expected)
    assert checked > 300  # lines shown, not only groups too small
    groups = {task.group for metrics, _ in current.values() for task in full_group(db, org, metrics)}
    assert groups == {3, 21, 22}  # older rules: 4; current: 30 - 4 - 2 accommodated - 2 erased; less the attempt itself

    # A recount builds the same histograms from the points.
    before = histograms(db, org)
    db[dbmod.NORM_COUNTS].delete_many({"organization_id": org})
    assert norms.recount(db, org) == db[dbmod.NORM_POINTS].count_documents({"organization_id": org})
    assert histograms(db, org) == before
    assert histograms(db, other) and all(doc["organization_id"] == other for doc in histograms(db, other).values())


def test_a_store_from_before_the_histograms_is_counted_once_at_the_first_read(db):
    org = ObjectId()
    tasks = simulate.make_tasks(random.Random(7), 1, organization_id=org)
    attempts = seed(db, org, tasks, 21)
    mine = metrics_of(db, attempts[0])
    db[dbmod.NORM_COUNTS].delete_many({})  # as a store from before them
    assert norms.norms_for(db, org, mine) == full_group(db, org, mine)
    assert norms.ensure_counted(db, org) is False  # counted once, marked


def test_buckets_keep_the_order_of_values_and_keys_their_exact_value():
    values = sorted(
        [-1e300, -1.0, -0.0, 0.0, 0.0001, 0.4999, 0.5, 9.9999, 10.0, 59.9999, 60.0, 7200.0, 1e12, 1e300, float("inf")]
    )
    buckets = [norms.bucket_of(value) for value in values]
    assert buckets == sorted(buckets)
    assert norms.bucket_of(float("nan")) is None
    for value in values:
        key = norms.value_key(value)
        assert "." not in key and not key.startswith("$") and float(key.replace(",", ".")) == value
