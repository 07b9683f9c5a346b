"""Rows held for a batch: found while the block runs, for its workspace only, forgotten
when written, and gone (or the outer hold back) when the block ends."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from threadline.kit.held import Held

ADDRESSES: Held[str, list[str]] = Held("test.addresses")


async def test_a_hold_answers_inside_its_block_and_workspace_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with ADDRESSES.holding(session, "ws_a", {"con_1": ["whatsapp:1"]}):
            assert ADDRESSES.get(session, "ws_a", "con_1") == ["whatsapp:1"]
            assert ADDRESSES.get(session, "ws_b", "con_1") is None
            assert ADDRESSES.get(session, "ws_a", "con_2") is None
        assert ADDRESSES.get(session, "ws_a", "con_1") is None


async def test_a_forgotten_row_is_read_again_and_an_inner_hold_gives_way_to_the_outer(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        with ADDRESSES.holding(session, "ws_a", {"con_1": ["a"], "con_2": ["b"]}):
            ADDRESSES.forget(session, "con_1")
            assert ADDRESSES.get(session, "ws_a", "con_1") is None
            with ADDRESSES.holding(session, "ws_a", {"con_3": ["c"]}):
                assert ADDRESSES.get(session, "ws_a", "con_2") is None
                assert ADDRESSES.get(session, "ws_a", "con_3") == ["c"]
            assert ADDRESSES.get(session, "ws_a", "con_2") == ["b"]
