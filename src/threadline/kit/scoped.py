"""The one place a query gets its workspace: every statement built through a `Scope` starts
filtered to that workspace, so a query cannot forget it (tests/kit/test_scoped.py fails when
a module outside this file writes the filter by hand).

    scope = Scope(session, workspace_id)
    await session.scalars(scope.select(Contact).where(Contact.name == "Ana"))
    await session.execute(scope.columns(ContactTag, ContactTag.contact_id, ContactTag.tag))
    await session.execute(scope.delete(ContactTag).where(ContactTag.contact_id == contact_id))
    contact = await scope.one(Contact, contact_id, "contact")

A model is scoped when it has a `workspace_id` column; rows of other tables (the workspace
itself, a join's far side) are reached through a scoped one."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Delete, Select, Update, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.kit.db import Base
from threadline.kit.errors import NotFound

M = TypeVar("M", bound=Base)


def workspace_column(model: type[Base]) -> Any:
    """The model's `workspace_id` column; a model without one cannot be scoped."""
    column = getattr(model, "workspace_id", None)
    if column is None:
        raise TypeError(f"{model.__name__} has no workspace_id: reach it through a scoped table")
    return column


@dataclass(frozen=True, slots=True)
class Scope:
    session: AsyncSession
    workspace_id: str

    def select(self, model: type[M]) -> Select[M]:
        return select(model).where(workspace_column(model) == self.workspace_id)

    def columns(self, model: type[Base], *columns: Any) -> Select[Any]:
        """Some columns of `model` (or expressions over it), in this workspace."""
        return select(*columns).where(workspace_column(model) == self.workspace_id)

    def delete(self, model: type[Base]) -> Delete:
        return delete(model).where(workspace_column(model) == self.workspace_id)

    def update(self, model: type[Base]) -> Update:
        return update(model).where(workspace_column(model) == self.workspace_id)

    async def get(self, model: type[M], row_id: str) -> M | None:
        """By primary key (a row already loaded in this transaction costs no query); None
        when it does not exist or belongs to another workspace."""
        row = await self.session.get(model, row_id)
        owner = getattr(row, "workspace_id", None)
        return row if row is not None and owner == self.workspace_id else None

    async def keyed(self, model: type[M], column: Any, values: Collection[Any]) -> dict[Any, M]:
        """The rows whose `column` (unique) holds one of `values`, by that value: what many
        single-row lookups would find, in one query."""
        rows = await self.session.scalars(self.select(model).where(column.in_(set(values))))
        return {getattr(row, column.key): row for row in rows}

    async def one(self, model: type[M], row_id: str, what: str, where: str | None = None) -> M:
        """The row, or NotFound naming it: another workspace's row does not exist here."""
        row = await self.get(model, row_id)
        if row is None:
            raise NotFound(f"no {what} {row_id} in this workspace", where=where or f"{what}_id")
        return row
