"""Email addresses: one rule for what is valid, one form in which they are
stored (trimmed, lower-case), for users, invitations and candidates alike.

Lookups by email (logging in, an invitation's address, a candidate's
attempts and profiles) compare the stored form, so an address typed
``Ada@Example.com`` once and ``ada@example.com`` later is one address.
"""

from __future__ import annotations

import re

MAX_LENGTH = 254
# Something@something.tld: no spaces, one @, a dot in the domain. Deliberately
# loose (RFC 5322 allows far more); the point is catching typos, not proving
# the address exists.
_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def normalise(email: str | None) -> str:
    """The stored form of ``email``: trimmed and lower-case ("" for None)."""
    return (email or "").strip().lower()


def is_valid(email: str) -> bool:
    """Whether the normalised ``email`` looks like an address."""
    return len(email) <= MAX_LENGTH and bool(_PATTERN.match(email))
