"""Newest-first pages read through a recent time window first.

The embedded store (SecantusDB) answers ``find(q).sort(t desc).limit(n)`` by
fetching and decoding every document matching ``q`` and sorting them in
memory, whatever the index; for an organisation with 10,000 attempts that is
most of a second per query. It does serve a range on an indexed field
(``{organization_id: X, t: {$gte: since}}`` on an ``(organization_id, t)``
index) by fetching only the documents in the range. So a newest-first page is
asked of the last hour first, then of wider windows, and of the whole
organisation only when the windows hold too few documents: a window that
yields a full page yields exactly the page the unbounded query would (every
document inside the window sorts before every document outside it), and a
window that falls short cost fewer than ``skip + limit`` documents.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection

from hiremate.timeutil import utcnow

# Spans growing about twofold from an hour: the store decodes every document of
# a window to sort it, so a page should come from the first window holding it,
# not from one ten times as full. An empty window costs about a millisecond (one
# round trip on an index range); at 10,000 attempts over 60 days a newest-25
# page reads about as few documents as at 1,000, even after a quiet morning.
WINDOWS = tuple(timedelta(hours=hours) for hours in (1, 3, 6, 12, 24, 48, 96, 168, 336, 720, 1440, 2880))
# Deeper pages read the whole organisation at once: a window that falls short
# of ``skip + limit`` may already have cost that many documents.
MAX_WINDOWED_ROWS = 1000


def newest_first(
    collection: Collection,
    query: dict[str, Any],
    field: str,
    *,
    projection: dict[str, Any] | None = None,
    skip: int = 0,
    limit: int,
    dates_only: bool = False,
    now: datetime | None = None,
    first_span: timedelta | None = None,
) -> list[dict[str, Any]]:
    """``find(query).sort([(field, -1), ("_id", -1)]).skip(skip).limit(limit)``,
    the same documents in the same order, read through recent windows of
    ``field`` (a date field, indexed after the query's equality fields).

    ``dates_only`` adds ``{field: {"$type": "date"}}`` to the query (a window,
    ``{field: {"$gte": since}}``, only ever matches dates). ``query`` must not
    name ``field`` and must be plain field conditions (no ``$or``: the store
    serves those by a full scan, window or not).

    ``first_span``: a window to try before the fixed ones (those no wider
    are then skipped), from what the caller knows of how recent the page is
    (``attempt_counts.recent_completions``). Only a hint: any window
    that yields a full page yields the exact one.
    """
    order = [(field, -1), ("_id", -1)]
    windowed = (
        limit > 0
        and skip + limit <= MAX_WINDOWED_ROWS
        and field not in query
        and not any(key.startswith("$") for key in query)
    )
    if windowed:
        now = now or utcnow()
        spans = WINDOWS if first_span is None else (first_span, *(span for span in WINDOWS if span > first_span))
        for span in spans:
            in_window = {**query, field: {"$gte": now - span}}
            page = list(collection.find(in_window, projection).sort(order).skip(skip).limit(limit))
            if len(page) == limit:
                return page
    everything = {**query, field: {"$type": "date"}} if dates_only and field not in query else query
    return list(collection.find(everything, projection).sort(order).skip(skip).limit(limit))
