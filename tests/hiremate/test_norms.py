"""Norms against the embedded store: kept up to date as profiles are stored,
shown only for groups of 20 or more others, the same rule version only,
accommodated attempts left out, one organisation never counted in another's,
and rebuilt by recount to the same figures."""

from __future__ import annotations

import random

from bson import ObjectId

from hiremate import db as dbmod
from hiremate import norms, profiles
from hiremate.models import ComputedMetrics
from hiremate.ops import simulate


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
    before = norms.norms_for(db, org, mine)
    db[dbmod.NORM_POINTS].delete_many({"organization_id": org})
    assert norms.rebuild(db, org) == 22
    assert norms.norms_for(db, org, mine) == before
