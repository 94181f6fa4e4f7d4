"""The sample impact report (docs/sample-impact-report.md), from simulated
data with a planted disparity, and the helpers that store simulated
self-identifications and decisions (tests use them too).

``python -m hiremate.ops.sample_impact [--out FILE] [--seed S] [--count N]``
starts a throwaway in-memory store, simulates ``N`` completed assessments
(``hiremate.ops.simulate``: real metrics and profiles), then, with a
``random.Random(seed)``:

* plants the disparity: a candidate the rules labelled decision speed
  ``fast`` is female with probability 0.30, any other with 0.55 (so female
  candidates are labelled ``fast`` less often); a female candidate with a
  decision is advanced with probability 0.30, anyone else with 0.50 (an
  impact ratio near 0.6);
* gives 8% of candidates no answer (unknown), and about 1% each "American
  Indian or Alaska Native" and "another sex or gender", so the 2% rule shows;
* records a decision for 90% of them (the rest count only as undecided).

The same seed and count give the same report, byte for byte (the report's
date is fixed to the simulated period's end).
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from bson import ObjectId
from pymongo.database import Database

from hiremate import auth, impact, self_id
from hiremate import db as dbmod
from hiremate.ops import simulate
from hiremate.scope import VIA_CLI, Scope

UNTIL = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
SAMPLE_ORG = "Sample Hiring Co"
DEFAULT_SEED, DEFAULT_COUNT = 17, 600
RACES = [  # (code, weight): a mix with one group under 2%
    ("white", 40),
    ("black", 15),
    ("hispanic_latino", 18),
    ("asian", 15),
    ("two_or_more", 6),
    ("native_hawaiian_pacific_islander", 2),
    ("american_indian_alaska_native", 1),
]


def store_self_id(db: Database, organization_id: ObjectId, attempt_id: ObjectId, sex: str, race: str) -> None:
    """A self-identification as ``self_id.record`` stores it (for simulation:
    no session key, no form)."""
    answers = self_id.Answers(sex=sex, race_ethnicity=race, consent=True)
    self_id.store(db, organization_id, attempt_id, answers, at=UNTIL)


def store_decision(db: Database, organization_id: ObjectId, attempt_id: ObjectId, value: str) -> None:
    """A latest decision as ``reviews.record_decision`` leaves it (for
    simulation: no reviewer account)."""
    decided = {
        "value": value,
        "reason": "simulated",
        "decided_by": ObjectId("000000000000000000000000"),
        "decided_by_name": "Simulated reviewer",
        "decided_at": UNTIL,
    }
    db[dbmod.REVIEWS].replace_one(
        {"_id": attempt_id},
        {"organization_id": organization_id, "decision": decided, "decisions": [decided], "reviews": {}, "history": []},
        upsert=True,
    )


def plant(db: Database, organization_id: ObjectId, rng: random.Random) -> int:
    """Self-identifications and decisions for the organisation's profiles,
    with the disparity the module docstring describes; returns how many."""
    profiles = list(
        db[dbmod.PROFILES]
        .find({"organization_id": organization_id}, {"attempt_id": 1, "decision_pattern": 1})
        .sort("attempt_id", 1)
    )
    codes, weights = zip(*RACES, strict=True)
    for doc in profiles:
        fast = (doc.get("decision_pattern") or {}).get("speed") == "fast"
        if rng.random() < 0.08:
            sex, race = "prefer_not_to_say", "prefer_not_to_say"
        else:
            sex = "female" if rng.random() < (0.30 if fast else 0.55) else rng.choice(["male"] * 49 + ["another"])
            race = rng.choices(codes, weights)[0]
        store_self_id(db, organization_id, doc["attempt_id"], sex, race)
        if rng.random() < 0.90:
            advanced = rng.random() < (0.30 if sex == "female" else 0.50)
            store_decision(db, organization_id, doc["attempt_id"], "advance" if advanced else "reject")
    return len(profiles)


def sample_report(db: Database, *, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> impact.ImpactReport:
    """Simulate into ``db`` (empty) and build the report over all of it."""
    rng = random.Random(seed)
    organization = auth.create_organization(db, SAMPLE_ORG)
    tasks = simulate.make_tasks(rng, 6, organization_id=organization.id)
    simulate.seed_completed_attempts(
        db, organization_id=organization.id, tasks=tasks, count=count, rng=rng, until=UNTIL, with_events=False
    )
    plant(db, organization.id, rng)
    scope = Scope(db, organization.id, None, is_admin=True, via=VIA_CLI)
    rows = impact.load_rows(scope)
    meta = impact.ReportMeta(organization=SAMPLE_ORG, generated_at=UNTIL, period_from=None, period_to=None)
    return impact.build_report(rows, meta)


def render(report: impact.ImpactReport, *, seed: int, count: int) -> str:
    header = (
        "<!-- Generated by `python -m hiremate.ops.sample_impact "
        f"--seed {seed} --count {count} --out docs/sample-impact-report.md`: do not edit by hand. -->\n\n"
        "> **Sample, simulated data.** "
        f"{count} simulated completed assessments (hiremate.ops.simulate, seed {seed}) with a *planted* "
        "disparity: female candidates were advanced with probability 0.30 against 0.50 for the others, and a "
        "candidate labelled decision speed `fast` was made female with probability 0.30 against 0.55 otherwise. "
        "8% gave no answer; about 1% are American Indian or Alaska Native and about 1% of another sex or gender (the 2% rule). The report should flag "
        "female candidates' selection rate and their share labelled `fast` below 0.8; it does (see "
        '"Groups below 0.8"). Method: docs/impact-report.md.\n\n'
    )
    return header + report.to_markdown()


@contextmanager
def _throwaway_store() -> Iterator[Database]:
    """An in-memory store of its own, stopped afterwards: the sample never touches real data."""
    with socket.socket() as probe:
        probe.bind((dbmod.STORE_HOST, 0))
        port = probe.getsockname()[1]
    store = dbmod.start_embedded_store(":memory:", port, sync_on_commit=False)
    client = dbmod.make_client(f"mongodb://{dbmod.STORE_HOST}:{port}/")
    try:
        db = client.get_database("sample_impact")
        dbmod.ensure_indexes(db)
        yield db
    finally:
        client.close()
        store.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hiremate.ops.sample_impact", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: standard output)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    args = parser.parse_args(argv)
    with _throwaway_store() as db:
        text = render(sample_report(db, seed=args.seed, count=args.count), seed=args.seed, count=args.count)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({date.today().isoformat()})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
