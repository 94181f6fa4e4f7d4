"""``hiremate.audit.append_many`` (bulk issue's audit): many entries onto one
chain with one head read a round, verifying like entries appended one by one,
also when another writer appends in between."""

from __future__ import annotations

from bson import ObjectId

from hiremate import audit
from hiremate import db as dbmod
from tests.conftest import TEST_AUDIT_KEY

KEY = TEST_AUDIT_KEY.encode()


def entries(count: int, action: str = "attempt.issued") -> list[tuple]:
    return [(action, None, "attempt", ObjectId(), {"tasks": 3}) for _ in range(count)]


def test_many_entries_extend_the_chain_in_order_and_verify(db):
    org = ObjectId()
    audit.append(db, "kit.created", organization_id=org, target_type="kit", target_id="k", key=KEY)
    written = entries(300)
    assert audit.append_many(db, org, written, key=KEY) == 300
    chain = list(db[dbmod.AUDIT_LOG].find({"chain": str(org)}).sort("seq", 1))
    assert [d["seq"] for d in chain] == list(range(1, 302))
    assert [d["target_id"] for d in chain[1:]] == [str(target) for _, _, _, target, _ in written]
    assert audit.verify_chain(db, str(org), key=KEY).ok
    assert audit.append_many(db, org, [], key=KEY) == 0


def test_a_writer_that_appends_in_between_is_chained_around(db, monkeypatch):
    org = ObjectId()
    audit.append(db, "first", organization_id=org, key=KEY)
    real_head = audit._head
    raced = []

    def head_then_race(database, chain):
        head = real_head(database, chain)
        if not raced:  # another process appends right after our head read
            raced.append(True)
            audit.append(database, "theirs", organization_id=org, key=KEY)
        return head

    monkeypatch.setattr(audit, "_head", head_then_race)
    assert audit.append_many(db, org, entries(5), key=KEY) == 5
    actions = [d["action"] for d in db[dbmod.AUDIT_LOG].find({"chain": str(org)}).sort("seq", 1)]
    assert actions == ["first", "theirs", *["attempt.issued"] * 5]
    assert audit.verify_chain(db, str(org), key=KEY).ok
