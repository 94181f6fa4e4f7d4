"""Helpers the report modules share: reading documents by path, looking a
page's related documents up by id, and the newest-completion-first order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId
from pymongo.collection import Collection

_NEWEST_COMPLETED = [("completed_at", -1), ("_id", -1)]


def _get(doc: dict[str, Any] | None, path: str) -> Any:
    """A dotted path into a document; None where any part is missing."""
    for key in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _lookup(
    collection: Collection,
    query: dict[str, Any],
    key: str,
    ids: Sequence[ObjectId],
    projection: dict[str, Any] | None = None,
) -> dict[ObjectId, dict[str, Any]]:
    """The documents matching ``query`` whose (unique) ``key`` is one of
    ``ids``, by that key: one query, bounded by the number of ids."""
    if not ids:
        return {}
    # Asked by ``key`` alone and ``query`` (plain equalities) checked here: given
    # ``{organization_id: X, key: {$in: ids}}`` the store reads every document of
    # the organisation instead of the ``ids`` through ``key``'s unique index.
    if any(key_.startswith("$") or isinstance(value, dict) for key_, value in query.items()):
        raise ValueError("_lookup takes plain equality conditions")
    if projection is not None:
        projection = {**projection, **{field: 1 for field in query}}
    cursor = collection.find({key: {"$in": list(ids)}}, projection).sort(key, 1).limit(len(ids))
    return {doc[key]: doc for doc in cursor if all(_get(doc, field) == value for field, value in query.items())}
