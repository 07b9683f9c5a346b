"""Rows read for a whole batch at once and held on the session while the batch is worked
through, so that code deep in one item's path (a contact's addresses, its tags, its
conversation) finds them there instead of asking the database again: one statement for
the batch instead of one per item. A hold belongs to one workspace and one block of code;
whoever writes such rows inside it lets go of what it changed (`forget`), so a hold never
answers with something older than the database would."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Held(Generic[K, V]):
    """One kind of held rows (say, addresses by contact id)."""

    __slots__ = ("_key",)

    def __init__(self, name: str) -> None:
        self._key = f"threadline.held.{name}"

    @contextmanager
    def holding(
        self, session: AsyncSession, workspace_id: str, values: Mapping[K, V]
    ) -> Iterator[None]:
        previous = session.info.get(self._key)
        session.info[self._key] = (workspace_id, dict(values))
        try:
            yield
        finally:
            if previous is None:
                session.info.pop(self._key, None)
            else:
                session.info[self._key] = previous

    def get(self, session: AsyncSession, workspace_id: str, key: K) -> V | None:
        """The held value, or None when nothing is held for this workspace and key (the
        caller then reads the database, as it would without a hold)."""
        held: tuple[str, dict[K, V]] | None = session.info.get(self._key)
        if held is None or held[0] != workspace_id:
            return None
        return held[1].get(key)

    def forget(self, session: AsyncSession, key: K) -> None:
        held: tuple[str, dict[K, V]] | None = session.info.get(self._key)
        if held is not None:
            held[1].pop(key, None)
