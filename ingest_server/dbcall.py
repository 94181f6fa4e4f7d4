"""``DbCall``: how a connection reaches the database without holding it.

The server hands each session a ``call_db`` that runs ``fn(db, *args)`` (a
blocking pymongo call, usually a domain function of ``hiremate``) in its
thread pool and awaits the result, so the event loop never blocks on I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from pymongo.database import Database

P = ParamSpec("P")
T = TypeVar("T")


class DbCall(Protocol):
    def __call__(
        self, fn: Callable[Concatenate[Database, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[T]: ...
