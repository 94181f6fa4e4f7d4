"""The commands a pymongo client sends, for tests that pin what reaches the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import MongoClient, monitoring
from pymongo.database import Database


class Commands(monitoring.CommandListener):
    """The commands a client sends, by name, with their bodies."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextmanager
def listening(store_uri: str, db_name: str) -> Iterator[tuple[Database, Commands]]:
    """The database ``db_name`` through a client of its own, as HireMate's
    clients write (majority, no retryable writes), and what that client sends."""
    commands = Commands()
    client: MongoClient = MongoClient(
        store_uri, tz_aware=True, w="majority", retryWrites=False, event_listeners=[commands]
    )
    try:
        yield client.get_database(db_name), commands
    finally:
        client.close()
