"""Keyset pages, newest first, on an indexed (date field, ``_id``) pair: the
paging of the REST API's lists (``?limit=&cursor=``).

A page after ``(t, id)`` is the documents with ``field == t`` and
``_id < id`` (the ties, by ``_id``), then those with ``field < t``. Unlike
``skip``, a page never repeats or misses a document when newer ones arrive
while someone pages, and a deep page costs what the first does.

The embedded store sorts by decoding every match of a query (see
``hiremate.windowed``), so the older part is read through growing windows
below ``t`` (``t - span <= field < t``) and only falls back to the whole
``field < t`` range when the windows hold too few: a window that yields a
full page yields exactly the page the unbounded query would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

from hiremate import db as dbmod
from hiremate.timeutil import utcnow
from hiremate.windowed import WINDOWS

Key = tuple[datetime, ObjectId]
# windowed.py's spans, after three shorter ones: an API client issuing in bulk
# puts hundreds of attempts into one hour, and a window is decoded whole.
SPANS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), *WINDOWS)


def newest_after(
    collection: Collection,
    query: dict[str, Any],
    field: str,
    *,
    after: Key | None,
    limit: int,
    projection: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], Key | None]:
    """One page of ``find(query)`` in ``(field desc, _id desc)`` order after
    the key ``after`` (None: from the newest), and the key to continue from
    (None when this page is the last). ``query`` must not name ``field`` or
    ``_id`` and must be plain field conditions; documents whose ``field`` is
    not a date are never listed."""
    order = [(field, -1), ("_id", -1)]
    wanted = limit + 1  # one more than asked tells whether another page follows
    page: list[dict[str, Any]] = []
    if after is None:
        top = utcnow()
        # From now on (a clock ahead too): ``>= now`` written as at_or_after (the store's $gte pitfall).
        page = list(collection.find({**query, field: dbmod.at_or_after(top)}, projection).sort(order).limit(wanted))
    else:
        top = after[0]
        ties = {**query, field: after[0], "_id": {"$lt": after[1]}}
        page = list(collection.find(ties, projection).sort([("_id", -1)]).limit(wanted))
    for span in SPANS:
        if len(page) >= wanted:
            break
        window = {"$lt": top, **dbmod.at_or_after(top - span)}
        found = list(collection.find({**query, field: window}, projection).sort(order).limit(wanted - len(page)))
        if len(found) == wanted - len(page):
            page += found
            break
    else:
        if len(page) < wanted:
            rest = {**query, field: {"$lt": top, "$type": "date"}}
            page += list(collection.find(rest, projection).sort(order).limit(wanted - len(page)))
    if len(page) <= limit:
        return page, None
    page = page[:limit]
    return page, (page[-1][field], page[-1]["_id"])
