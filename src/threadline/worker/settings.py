"""Dispatcher tuning from the settings."""

from __future__ import annotations

from datetime import timedelta

from threadline.config import Settings
from threadline.worker.dispatcher import DispatchConfig


def dispatch_config(settings: Settings) -> DispatchConfig:
    return DispatchConfig(
        batch_size=settings.dispatch_batch,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        reconcile_grace=timedelta(seconds=settings.reconcile_grace_seconds),
    )
