"""A channel is dispatched by one worker at a time: a lease row with an expiry, renewed
while the worker lives and taken over when it stops renewing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from threadline.channels.models import ChannelAccount, ChannelLease


async def acquire(
    session: AsyncSession, channel: ChannelAccount, holder: str, now: datetime, ttl: timedelta
) -> bool:
    stmt = select(ChannelLease).where(ChannelLease.channel_id == channel.id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    lease = await session.scalar(stmt)
    if lease is None:
        try:
            async with session.begin_nested():
                session.add(
                    ChannelLease(
                        channel_id=channel.id,
                        workspace_id=channel.workspace_id,
                        holder=holder,
                        expires_at=now + ttl,
                    )
                )
        except IntegrityError:
            return False
        return True
    if lease.holder != holder and lease.expires_at > now:
        return False
    lease.holder = holder
    lease.expires_at = now + ttl
    await session.flush()
    return True


async def release(session: AsyncSession, channel_id: str, holder: str) -> None:
    lease = await session.get(ChannelLease, channel_id)
    if lease is not None and lease.holder == holder:
        await session.delete(lease)
        await session.flush()
