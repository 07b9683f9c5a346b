"""Request-scoped dependencies: the database session (the request owns the commit),
the clock, and the workspace an API key belongs to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from threadline.channels.directory import ChannelDirectory
from threadline.config import Settings
from threadline.inbox.group_commit import GroupCommit
from threadline.kit.clock import Clock
from threadline.kit.crypto import SecretBox
from threadline.kit.errors import Unauthorized
from threadline.workspaces.models import Workspace
from threadline.workspaces.service import workspace_for_key


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    box: SecretBox
    channels: ChannelDirectory
    ingest: GroupCommit  # webhook deliveries, stored by group commit


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.threadline
    return state


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with app_state(request).sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def now(request: Request) -> datetime:
    return app_state(request).clock.now()


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")


# scope="function": commit (or roll back) before the response is sent, so a 2xx always
# means the data is stored. FastAPI's default would commit after responding.
_SESSION = Depends(db_session, scope="function")


async def current_workspace(
    session: Annotated[AsyncSession, _SESSION],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Workspace:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
    return await workspace_for_key(session, credentials.credentials)


Session = Annotated[AsyncSession, _SESSION]
Now = Annotated[datetime, Depends(now)]
CurrentWorkspace = Annotated[Workspace, Depends(current_workspace)]
