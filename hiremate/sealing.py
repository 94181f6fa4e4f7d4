"""Sealing a value kept for later use: AES-256-GCM under a key derived from HIREMATE_SECRET.

Used by the mail outbox (a candidate's link until it is sent) and by the
webhooks (an endpoint's signing secret, which must be read back to sign).
Each use passes its own ``label``: the key is HKDF-SHA256 of the secret with
that label, so it is never the key that signs cookies or tickets, nor another
use's key. ``bound_to`` (the document's id) is the associated data, so a
sealed value copied into another document does not open. Stored as base64 of
nonce (12 bytes) and ciphertext. The standard library has no authenticated
cipher; ``cryptography`` (PyCA) is the dependency.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["seal", "unseal"]


@functools.lru_cache(maxsize=8)  # one derivation per (secret, label), not one per value (bulk issue seals hundreds)
def _key(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)


def seal(secret: bytes, plaintext: str, bound_to: str, *, label: bytes) -> str:
    """``plaintext`` encrypted for ``bound_to`` under the key of ``label``."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret, label)).encrypt(nonce, plaintext.encode(), bound_to.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(secret: bytes, sealed: str, bound_to: str, *, label: bytes) -> str | None:
    """The plaintext, or None when it does not open (another secret, label or document)."""
    try:
        raw = base64.b64decode(sealed)
        return AESGCM(_key(secret, label)).decrypt(raw[:12], raw[12:], bound_to.encode()).decode()
    except (InvalidTag, ValueError):
        return None
