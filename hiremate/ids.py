"""Parsing ids that arrive as text (query parameters, command-line flags,
socket messages): one rule for the whole domain."""

from __future__ import annotations

from bson import ObjectId


def as_object_id(value: ObjectId | str | None) -> ObjectId | None:
    """An ObjectId from an id or its hex string; None for anything else."""
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    return None
