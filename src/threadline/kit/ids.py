"""Identifiers: time-ordered, URL-safe, prefixed by kind so a stray id is recognisable."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_id(prefix: str) -> str:
    """`<prefix>_<12 hex ms><4 hex counter><10 hex random>`.

    Sorting ids sorts by creation within a process (the counter breaks ties inside one
    millisecond), which keeps ledgers that are folded in id order deterministic."""
    global _last_millis, _counter
    with _lock:
        millis = int(time.time() * 1000)
        if millis <= _last_millis:
            millis = _last_millis
            _counter += 1
        else:
            _last_millis = millis
            _counter = 0
        counter = _counter & 0xFFFF
    return f"{prefix}_{millis & 0xFFFFFFFFFFFF:012x}{counter:04x}{os.urandom(5).hex()}"
