"""hiremate.sealing: values kept encrypted for later use (mail links, webhook secrets)."""

from __future__ import annotations

from hiremate import sealing

SECRET = b"s" * 48
LABEL = b"a label"


def test_a_sealed_value_opens_with_the_same_secret_label_and_document_only():
    sealed = sealing.seal(SECRET, "whsec_abc", "doc-1", label=LABEL)
    assert "whsec_abc" not in sealed
    assert sealing.unseal(SECRET, sealed, "doc-1", label=LABEL) == "whsec_abc"
    assert sealing.unseal(SECRET, sealed, "doc-2", label=LABEL) is None  # copied into another document
    assert sealing.unseal(SECRET, sealed, "doc-1", label=b"another use") is None  # another use's key
    assert sealing.unseal(b"t" * 48, sealed, "doc-1", label=LABEL) is None  # HIREMATE_SECRET changed
    assert sealing.unseal(SECRET, "not base64!", "doc-1", label=LABEL) is None


def test_two_seals_of_one_value_differ():
    assert sealing.seal(SECRET, "x", "d", label=LABEL) != sealing.seal(SECRET, "x", "d", label=LABEL)
