"""Sealing a link in the outbox: AES-256-GCM under a key derived from HIREMATE_SECRET.

The key is HKDF-SHA256 of the secret with its own label, so it is never the
key that signs cookies or tickets; the outbox document's id is the
associated data, so a sealed link copied into another message does not open.
Stored as base64 of nonce (12 bytes) and ciphertext.
"""

from __future__ import annotations

import base64
import functools
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_LABEL = b"hiremate mail outbox link v1"


@functools.lru_cache(maxsize=4)  # one derivation per secret, not one per message (bulk issue seals hundreds)
def _key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(secret)


def seal(secret: bytes, plaintext: str, bound_to: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret)).encrypt(nonce, plaintext.encode(), bound_to.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(secret: bytes, sealed: str, bound_to: str) -> str | None:
    """The plaintext, or None when it does not open (another secret, another message)."""
    try:
        raw = base64.b64decode(sealed)
        return AESGCM(_key(secret)).decrypt(raw[:12], raw[12:], bound_to.encode()).decode()
    except (InvalidTag, ValueError):
        return None
