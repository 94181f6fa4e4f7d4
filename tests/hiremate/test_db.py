from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from filelock import FileLock
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from hiremate import db as dbmod
from hiremate.settings import Settings
from tests.conftest import free_port
from tests.support.commands import listening


@pytest.mark.parametrize(
    ("collection", "doc"),
    [
        (dbmod.USERS, {"email": "a@example.com"}),
        (dbmod.ATTEMPTS, {"token_hash": "abc"}),
        (dbmod.METRICS, {"attempt_id": 1}),
        (dbmod.PROFILES, {"attempt_id": 1}),
        (dbmod.EVENTS, {"attempt_id": 1, "sequence_number": 1}),
    ],
)
def test_unique_indexes_reject_duplicates(db, collection, doc):
    db[collection].insert_one(dict(doc))
    with pytest.raises(DuplicateKeyError):
        db[collection].insert_one(dict(doc))
    assert db[collection].count_documents({}) == 1


def test_ensure_indexes_is_idempotent(db):
    before = {name: sorted(db[name].index_information()) for name in dbmod.INDEXES}
    dbmod.ensure_indexes(db)
    after = {name: sorted(db[name].index_information()) for name in dbmod.INDEXES}
    assert before == after


def test_event_sequence_is_unique_per_attempt_only(db):
    db[dbmod.EVENTS].insert_one({"attempt_id": 1, "sequence_number": 1})
    db[dbmod.EVENTS].insert_one({"attempt_id": 2, "sequence_number": 1})
    assert db[dbmod.EVENTS].count_documents({"sequence_number": 1}) == 2


def test_unreachable_uri_gives_clear_error(tmp_path):
    dbmod.reset_client()
    settings = Settings(
        mongodb_uri="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
        data_dir=tmp_path,
        secret_from_env="x" * 32,
        audit_key_from_env="y" * 32,
    )
    with pytest.raises(dbmod.StoreUnavailable, match=r"127\.0\.0\.1:1"):
        dbmod.get_client(settings)
    dbmod.reset_client()


def test_clients_of_the_embedded_store_do_not_retry_writes(settings):
    # SecantusDB scans (and past 10,000 sorts) its retryable-write records on every
    # write: the process client leaves them out, the URI may still ask for them.
    dbmod.reset_client()
    try:
        client = dbmod.get_client(settings)
        assert client.options.retry_writes is False
        assert "secantusVersion" in client.admin.command("buildInfo")
    finally:
        dbmod.reset_client()
    assert dbmod.make_client(settings.mongo_uri).options.retry_writes is False
    assert dbmod.make_client(settings.mongo_uri + "?retryWrites=true").options.retry_writes is True


@pytest.mark.parametrize(
    ("build_info", "uri", "wanted"),
    [
        ({"version": "8.0.4"}, "mongodb://db.example:27017/", True),
        ({"version": "8.2.11", "secantusVersion": "0.7.0b3"}, "mongodb://127.0.0.1:27018/", False),
        ({"version": "8.0.4"}, "mongodb://db.example:27017/?retryWrites=false", False),
    ],
)
def test_retryable_writes_only_for_a_mongodb_server(build_info, uri, wanted):
    assert dbmod.wants_retryable_writes(build_info, uri) is wanted


def test_while_the_store_owner_restarts_it_others_wait_instead_of_starting_a_second(tmp_path):
    # `make run` owns the embedded store (it keeps the store's file lock) and
    # restarts it when it crashes; a HireMate process that needs the store in
    # the meantime waits for that restart rather than racing it with its own.
    settings = Settings(data_dir=tmp_path / "data", embedded_port=free_port())
    owner = dbmod.ensure_embedded_store(settings, own=True)
    assert owner is not None and owner.lock is not None
    try:
        owner.process.kill()  # the crash
        owner.process.wait()
        restart = threading.Timer(2.0, owner.respawn)
        restart.start()
        assert dbmod.ensure_embedded_store(settings) is None  # waited; started nothing
        restart.join()
        assert dbmod._answers(settings.mongo_uri)
        assert owner.process.poll() is None  # the store that answers is the owner's
    finally:
        owner.stop()
    with FileLock(str(settings.data_dir / "embedded-store.lock")).acquire(timeout=0):
        pass  # released with the stop


def test_the_embedded_store_keeps_the_data_dir_private(tmp_path):
    # The folder holds the secret and the database: its user's only, the
    # store's own files (umask 077), its log and its lock included.
    settings = Settings(data_dir=tmp_path / "data", embedded_port=free_port())
    store = dbmod.ensure_embedded_store(settings)
    assert store is not None
    try:
        client = dbmod.make_client(settings.mongo_uri)
        client["t"]["c"].insert_one({"a": 1})
        client.close()
    finally:
        store.stop()
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    for folder, dirs, files in os.walk(settings.data_dir):
        for name in dirs + files:
            mode = stat.S_IMODE((Path(folder) / name).lstat().st_mode)
            assert not mode & 0o077, f"{name} is {oct(mode)}"
    assert {"db", "secantusd.log", "embedded-store.lock"} <= set(os.listdir(settings.data_dir))


def test_a_bulk_load_store_keeps_no_oplog_and_the_product_store_reads_its_files(tmp_path):
    """store_command(bulk_load=True): HireMate's client writes to it as ever,
    it offers no change streams (no oplog to read them from), and the same
    files started as the product runs them hold every document and do."""
    port = free_port()
    store = dbmod.start_embedded_store(tmp_path / "store", port, sync_on_commit=False, bulk_load=True)
    client = dbmod.make_client(f"mongodb://127.0.0.1:{port}/")
    try:
        assert "setName" not in client.admin.command("hello")
        client.bulk["things"].insert_many([{"n": n} for n in range(100)])
        with pytest.raises(OperationFailure):
            client.bulk["things"].watch().try_next()
    finally:
        client.close()
        store.stop()

    store = dbmod.start_embedded_store(tmp_path / "store", port, sync_on_commit=False)
    client = dbmod.make_client(f"mongodb://127.0.0.1:{port}/")
    try:
        assert client.admin.command("hello").get("setName")
        assert client.bulk["things"].count_documents({}) == 100
        with client.bulk["things"].watch(max_await_time_ms=100) as stream:
            client.bulk["things"].insert_one({"n": 100})
            change = None
            for _ in range(50):
                change = stream.try_next()
                if change is not None:
                    break
            assert change is not None and change["fullDocument"]["n"] == 100
    finally:
        client.close()
        store.stop()


def test_events_carry_only_the_unique_index_every_read_uses(db):
    assert sorted(db[dbmod.EVENTS].index_information()) == ["_id_", "attempt_seq_unique"]


def test_a_store_made_before_keeps_its_events_and_loses_the_unused_indexes(db):
    # As stores made before 2026-12-06 were indexed: two more indexes on the events.
    db[dbmod.EVENTS].create_index([("attempt_id", 1), ("task_id", 1), ("timestamp", 1)])
    db[dbmod.EVENTS].create_index([("event_type", 1), ("timestamp", -1)])
    db[dbmod.EVENTS].insert_many([{"attempt_id": 1, "sequence_number": n} for n in (1, 2, 3)])
    assert set(dbmod.OBSOLETE_INDEXES[dbmod.EVENTS]) <= set(db[dbmod.EVENTS].index_information())

    dbmod.ensure_indexes(db)

    assert sorted(db[dbmod.EVENTS].index_information()) == ["_id_", "attempt_seq_unique"]
    assert db[dbmod.EVENTS].count_documents({"attempt_id": 1}) == 3
    with pytest.raises(DuplicateKeyError):
        db[dbmod.EVENTS].insert_one({"attempt_id": 1, "sequence_number": 2})


def test_two_processes_dropping_the_same_obsolete_index_both_start(db):
    # The second of two processes starting together finds it already dropped.
    name = db[dbmod.EVENTS].create_index([("event_type", 1), ("timestamp", -1)])
    db[dbmod.EVENTS].drop_index(name)
    dbmod._drop_index_if_there(db[dbmod.EVENTS], name)
    assert name not in db[dbmod.EVENTS].index_information()


# ---------------------------------------------------------------- find_one_and_update


@pytest.fixture
def listened(store_uri, db):
    with listening(store_uri, db.name) as (database, commands):
        yield database["compare_and_set"], commands  # no unique index in the way


def test_a_compare_and_set_on_the_embedded_store_writes_by_id_and_returns_exact_images(listened):
    """SecantusDB's findAndModify reads the whole collection for its write:
    none is sent. The write names the _id first, re-asserts the query and
    pins what it changes; the images returned are the stored ones."""
    attempts, commands = listened
    attempts.insert_many([{"status": "issued", "session_epoch": 0, "n": i} for i in range(20)])
    target = attempts.find_one({"n": 7})
    query = {"_id": target["_id"], "status": {"$in": ["issued", "in_progress"]}}
    update = {"$set": {"status": "in_progress", "note": "x"}, "$inc": {"session_epoch": 1}, "$unset": {"n": ""}}
    commands.sent.clear()
    before = dbmod.find_one_and_update(attempts, query, update, return_document=ReturnDocument.BEFORE)
    assert before == target
    assert "findAndModify" not in [name for name, _ in commands.sent]
    (write,) = [body for name, body in commands.sent if name == "update"]
    (statement,) = write["updates"]
    assert next(iter(statement["q"])) == "_id" and not any(key.startswith("$") for key in statement["q"])
    assert statement["q"]["status"] == "issued" and statement["q"]["session_epoch"] == 0  # pinned as found
    after = dbmod.find_one_and_update(
        attempts, {"_id": target["_id"]}, {"$inc": {"session_epoch": 1}}, return_document=ReturnDocument.AFTER
    )
    assert (
        after
        == attempts.find_one({"_id": target["_id"]})
        == {"_id": target["_id"], "status": "in_progress", "session_epoch": 2, "note": "x"}
    )
    assert dbmod.find_one_and_update(attempts, {"_id": target["_id"], "status": "issued"}, update) is None
    assert attempts.count_documents({"session_epoch": {"$gt": 0}}) == 1  # nothing else written


def test_a_compare_and_set_with_a_sort_takes_the_first_match_in_that_order(listened):
    """As findAndModify's sort does, without sending one: the newest waiting
    message is the one brought forward, then the next newest."""
    outbox, commands = listened
    outbox.insert_many([{"_id": n, "status": "queued", "created": n % 4} for n in range(8)])
    commands.sent.clear()
    newest = [("created", -1), ("_id", -1)]
    taken = [
        dbmod.find_one_and_update(outbox, {"status": "queued"}, {"$set": {"status": "due"}}, sort=newest)["_id"]
        for _ in range(3)
    ]
    assert taken == [7, 3, 6]
    assert "findAndModify" not in [name for name, _ in commands.sent]
    assert outbox.count_documents({"status": "due"}) == 3


def test_concurrent_compare_and_sets_each_land_once_with_their_own_epoch(listened):
    """Eight takeovers of one attempt at once (as ``resume`` does it): each
    gets its own epoch, and the stored epoch counts every one."""
    attempts, _ = listened
    attempt_id = attempts.insert_one({"status": "in_progress", "session_epoch": 0}).inserted_id
    epochs: list[int] = []
    barrier = threading.Barrier(8)

    def take_over() -> None:
        barrier.wait()
        for _ in range(5):
            doc = dbmod.find_one_and_update(
                attempts,
                {"_id": attempt_id, "status": "in_progress"},
                {"$inc": {"session_epoch": 1}, "$set": {"disconnected_at": None}},
                return_document=ReturnDocument.AFTER,
            )
            epochs.append(doc["session_epoch"])

    threads = [threading.Thread(target=take_over) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(epochs) == list(range(1, 41))
    assert attempts.find_one({"_id": attempt_id})["session_epoch"] == 40


def test_what_it_cannot_pin_goes_to_find_and_modify(listened):
    """A $push, a dotted path or a $-key query: the store's own findAndModify, same answer."""
    attempts, commands = listened
    attempt_id = attempts.insert_one({"status": "issued", "tags": [], "request": {"at": 1}}).inserted_id
    for query, update in [
        ({"_id": attempt_id}, {"$push": {"tags": "a"}}),
        ({"_id": attempt_id}, {"$set": {"request.answered": True}}),
        ({"$or": [{"_id": attempt_id}]}, {"$set": {"status": "pending"}}),
    ]:
        commands.sent.clear()
        after = dbmod.find_one_and_update(attempts, query, update, return_document=ReturnDocument.AFTER)
        assert after == attempts.find_one({"_id": attempt_id})
        assert [name for name, _ in commands.sent if name in {"findAndModify", "update"}] == ["findAndModify"]
    assert after == {"_id": attempt_id, "status": "pending", "tags": ["a"], "request": {"at": 1, "answered": True}}


def test_an_update_by_id_writes_by_id_and_reads_the_document_back(listened):
    """For what cannot be pinned ($push, dotted paths): no findAndModify on the
    embedded store; the write's filter names the _id first; an upsert
    inserts; a compare that fails writes nothing and answers None."""
    reviews, commands = listened
    reviews.insert_many([{"_id": n, "org": 1, "history": [], "decision": None} for n in range(20)])
    commands.sent.clear()
    push = {"$set": {"reviews.ann": "agree"}, "$push": {"history": {"$each": ["a"], "$slice": -2}}}
    after = dbmod.update_by_id(reviews, {"org": 1, "_id": 7}, push)
    assert (
        after
        == reviews.find_one({"_id": 7})
        == {"_id": 7, "org": 1, "history": ["a"], "decision": None, "reviews": {"ann": "agree"}}
    )
    assert "findAndModify" not in [name for name, _ in commands.sent]
    (write,) = [body for name, body in commands.sent if name == "update"]
    assert next(iter(write["updates"][0]["q"])) == "_id"
    decided = {"$set": {"decision": "advance"}, "$push": {"decisions": "advance"}}
    assert dbmod.update_by_id(reviews, {"_id": 7, "decision": None}, decided)["decisions"] == ["advance"]
    assert dbmod.update_by_id(reviews, {"_id": 7, "decision": None}, decided) is None  # decided meanwhile
    assert reviews.find_one({"_id": 7})["decisions"] == ["advance"]
    inserted = dbmod.update_by_id(
        reviews, {"_id": 99, "org": 1}, {"$setOnInsert": {"first": True}, **push}, upsert=True
    )
    assert inserted == {"_id": 99, "org": 1, "first": True, "reviews": {"ann": "agree"}, "history": ["a"]}
    assert dbmod.update_by_id(reviews, {"_id": 98, "org": 1}, push) is None
    assert reviews.count_documents({}) == 21
