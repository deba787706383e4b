"""Python endpoint handlers that keep a ledger of their effects (bound in ``tests/endpoints_ledger.toml``).

Each records its effect once per idempotency key in a SQLite file (``BATON_TEST_LEDGER``) and
counts every call, so a test can tell an effect applied twice from a call made twice. ``crash``
kills its own process while the flag file ``BATON_TEST_CRASH`` exists: a worker dying between two
in-process steps of one transaction.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

from engine import JobCall


def _ledger() -> sqlite3.Connection:
    conn = sqlite3.connect(os.environ["BATON_TEST_LEDGER"], timeout=30, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS effect (key TEXT PRIMARY KEY, element TEXT, calls INTEGER)")
    return conn


def _apply(call: JobCall) -> dict[str, Any]:
    conn = _ledger()
    try:
        conn.execute("INSERT INTO effect VALUES (?, ?, 1) ON CONFLICT(key) DO UPDATE SET calls = calls + 1",
                     (call.idempotency_key, call.element_id))
    finally:
        conn.close()
    return {f"{call.element_id}_done": True}


def reserve(variables: dict[str, Any], call: JobCall) -> dict[str, Any]:
    return _apply(call)


def crash(variables: dict[str, Any], call: JobCall) -> dict[str, Any]:
    flag = os.environ.get("BATON_TEST_CRASH")
    if flag and Path(flag).exists():
        os.kill(os.getpid(), signal.SIGKILL)
    return _apply(call)


def broken(variables: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("the stock service is down")


def effects(path: str) -> dict[str, tuple[str, int]]:
    """key -> (element, calls), read by the tests."""
    conn = sqlite3.connect(path)
    try:
        return {key: (element, calls) for key, element, calls in conn.execute("SELECT key, element, calls FROM effect")}
    finally:
        conn.close()


def mended(variables: dict[str, Any]) -> dict[str, Any]:
    """Down until the file ``BATON_TEST_LEDGER + ".mended"`` exists; then reserves, answering a secret too."""
    if not Path(os.environ["BATON_TEST_LEDGER"] + ".mended").exists():
        raise RuntimeError("the stock service is down")
    return {"stock": "reserved", "stock_api_token": "t0ps3cret"}
