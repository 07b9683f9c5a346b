"""Holdout buckets: a sticky random bucket per contact, and a hashed one per campaign."""

from __future__ import annotations

import hashlib
import secrets

BUCKETS = 10_000


def new_bucket() -> int:
    return secrets.randbelow(BUCKETS)


def campaign_bucket(contact_id: str, campaign_id: str) -> int:
    """Deterministic, so the same person stays in (or out of) a campaign's control on
    every recurring send."""
    digest = hashlib.sha256(f"{contact_id}:{campaign_id}".encode()).hexdigest()
    return int(digest[:12], 16) % BUCKETS


def in_slice(bucket: int, percent: float) -> bool:
    """Buckets [0, percent% of BUCKETS) form the slice, so it stays a fixed share as people join."""
    return bucket < round(percent * BUCKETS / 100)
