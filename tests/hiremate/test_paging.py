"""Keyset pages (hiremate/paging.py): every document once, in order, however
the times fall (ties, gaps of months, documents newer than the first page)."""

from __future__ import annotations

import random
from datetime import timedelta

from bson import ObjectId

from hiremate import paging
from hiremate.timeutil import utcnow


def all_pages(collection, query, limit):
    seen, after, pages = [], None, 0
    while True:
        page, after = paging.newest_after(collection, query, "at", after=after, limit=limit)
        seen += [doc["_id"] for doc in page]
        pages += 1
        if after is None:
            return seen, pages


def test_pages_cover_everything_once_in_order_across_ties_and_gaps(db):
    rng = random.Random(7)
    now = utcnow()
    times = [now - timedelta(minutes=rng.choice([1, 5, 5, 5, 90, 2000, 60 * 24 * 200])) for _ in range(120)]
    times += [now + timedelta(seconds=30)] * 3  # a clock ahead
    org = ObjectId()
    docs = [{"_id": ObjectId(), "org": org, "at": at} for at in times]
    docs += [{"_id": ObjectId(), "org": ObjectId(), "at": now}, {"_id": ObjectId(), "org": org, "at": None}]
    db.things.insert_many(docs)
    db.things.create_index([("org", 1), ("at", -1), ("_id", -1)])
    expected = [d["_id"] for d in sorted(docs[:123], key=lambda d: (d["at"], d["_id"]), reverse=True)]
    for limit in (1, 7, 50, 500):
        seen, pages = all_pages(db.things, {"org": org}, limit)
        assert seen == expected, limit
        assert pages == -(-len(expected) // limit)  # no empty page at the end: the next key says so


def test_an_empty_list_is_one_empty_last_page(db):
    assert paging.newest_after(db.nothing, {"org": 1}, "at", after=None, limit=10) == ([], None)
