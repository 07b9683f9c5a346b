"""Typed settings of Messenger pages and Instagram accounts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class PageConfig(BaseModel):
    """A Facebook Page that answers on Messenger."""

    model_config = ConfigDict(extra="forbid")
    page_name: str = ""
    # Set when the platform reports a policy enforcement (warning or block).
    policy_enforcement: str | None = None


class InstagramConfig(BaseModel):
    """An Instagram professional account, reached through its linked Page."""

    model_config = ConfigDict(extra="forbid")
    page_id: str
    username: str = ""
    policy_enforcement: str | None = None
