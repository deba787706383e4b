"""In-memory state of the demo services: effects, idempotency store, call log, faults.

Kept apart from the HTTP layer so the rules a demo relies on (what counts as an
effect, when a response is replayed, how an injected fault is consumed) live in one
place and can be read without the socket plumbing around them.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

FAIL_MODES = ("http500", "bpmn_error", "timeout", "slow", "lose_answer", "none")

#: Default sleep per mode. ``timeout`` sleeps longer than the 10 s endpoint timeout
#: in ``endpoints.toml`` so the caller really gives up; ``slow`` stays under it.
DEFAULT_SECONDS = {"timeout": 15.0, "slow": 2.0}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _charge(body: dict[str, Any]) -> dict[str, Any]:
    return {"payment_id": _new_id("pay"), "charged": body.get("amount", 0)}


#: The business endpoints: path -> function computing the response from the body.
#: Each function *is* the effect; it runs once per distinct Idempotency-Key.
ENDPOINTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "/payment/charge": _charge,
    "/payment/refund": lambda body: {"refund_id": _new_id("ref")},
    "/inventory/reserve": lambda body: {"reservation_id": _new_id("res")},
    "/inventory/release": lambda body: {"released": True},
    "/shipping/create": lambda body: {"shipment_id": _new_id("shp")},
    "/shipping/cancel": lambda body: {"shipment_cancelled": True},
    "/accounts/create": lambda body: {"account_id": _new_id("acc")},
    # Order hybrid (order_hybrid.bpmn): the order the synchronous edge creates.
    "/orders/create": lambda body: {"order_id": _new_id("ord"), "order_status": "created"},
    "/notify/send": lambda body: {"notified": True},
    # Trip booking (trip_booking.bpmn): one booking and one cancellation per supplier.
    "/hotel/book": lambda body: {"hotel_booking_id": _new_id("htl")},
    "/hotel/cancel": lambda body: {"hotel_cancelled": True},
    "/flight/book": lambda body: {"flight_booking_id": _new_id("flt")},
    "/flight/cancel": lambda body: {"flight_cancelled": True},
    "/car/book": lambda body: {"car_booking_id": _new_id("car")},
    "/car/cancel": lambda body: {"car_cancelled": True},
}


def default_error_code(path: str) -> str:
    """``/shipping/create`` -> ``SHIPPING_UNAVAILABLE``: matches the demo diagram's error."""
    service = path.strip("/").split("/")[0] or "SERVICE"
    return f"{service.upper()}_UNAVAILABLE"


@dataclass
class FailRule:
    """A fault injected on one path; ``count`` calls fail, ``-1`` means every call.

    ``match`` narrows it to the calls whose JSON body holds every one of these key/value pairs
    (the instance's variables, as Baton posts them), so an instance's inputs decide its faults.
    A path may carry several rules with different ``match``; the first one installed that
    matches a call applies.
    """

    path: str
    mode: str
    count: int = -1
    code: str = ""
    message: str = ""
    seconds: float = 0.0
    match: dict[str, Any] = field(default_factory=dict)

    @property
    def slot(self) -> tuple[str, str]:
        """What a new rule replaces: the rule of the same path and the same ``match``."""
        return self.path, json.dumps(self.match, sort_keys=True)

    def matches(self, path: str, body: dict[str, Any]) -> bool:
        return path == self.path and all(body.get(k, _MISSING) == v for k, v in self.match.items())


_MISSING = object()


@dataclass
class Outcome:
    """What the HTTP layer must do for one business call, decided under the lock."""

    status: int | None  # None: drop the connection without answering (timeout)
    body: dict[str, Any]
    outcome: str  # ok | replayed | http500 | bpmn_error | timeout | slow | lose_answer
    sleep: float = 0.0
    replayed: bool = False


class ServiceState:
    """All mutable state, guarded by one lock (the server is threaded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.effects: list[dict[str, Any]] = []
        self._stored: dict[tuple[str, str], dict[str, Any]] = {}
        self._rules: dict[tuple[str, str], FailRule] = {}

    def reset(self) -> None:
        """Forget calls, effects, stored responses and fault rules (startup ones too)."""
        with self._lock:
            self.calls.clear()
            self.effects.clear()
            self._stored.clear()
            self._rules.clear()

    def set_rule(self, rule: FailRule) -> None:
        """Install (or, with mode ``none`` or count 0, clear) the fault rule for a path and match.

        Mode ``none`` without a ``match`` clears every rule of the path."""
        if rule.mode not in FAIL_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAIL_MODES)}")
        if rule.mode == "bpmn_error" and not rule.code:
            rule.code = default_error_code(rule.path)
        if rule.mode in DEFAULT_SECONDS and not rule.seconds:
            rule.seconds = DEFAULT_SECONDS[rule.mode]
        with self._lock:
            if rule.mode == "none" and not rule.match:
                for slot in [s for s in self._rules if s[0] == rule.path]:
                    del self._rules[slot]
            elif rule.mode == "none" or rule.count == 0:
                self._rules.pop(rule.slot, None)
            else:
                self._rules[rule.slot] = rule

    def rules(self) -> list[dict[str, Any]]:
        """The active fault rules, for ``GET /_control/fail``."""
        with self._lock:
            return [asdict(r) for r in self._rules.values()]

    def snapshot(self) -> dict[str, Any]:
        """Copies of the call log and effect list, safe to serialise outside the lock."""
        with self._lock:
            return {"calls": list(self.calls), "effects": list(self.effects)}

    def _take_rule(self, path: str, body: dict[str, Any]) -> FailRule | None:
        rule = next((r for r in self._rules.values() if r.matches(path, body)), None)
        if rule is None:
            return None
        if rule.count > 0:
            rule.count -= 1
            if rule.count == 0:
                del self._rules[rule.slot]
        return rule

    def _apply(
        self, path: str, key: str | None, instance_id: str | None, body: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Run the effect once per (path, key); a repeated key gets the first response."""
        if key is not None and (path, key) in self._stored:
            return self._stored[(path, key)], True
        response = ENDPOINTS[path](body)
        if key is not None:
            self._stored[(path, key)] = response
        self.effects.append(
            {
                "path": path,
                "idempotency_key": key,
                "instance_id": instance_id,
                "body": body,
                "response": response,
                "time": _now(),
            }
        )
        return response, False

    def handle(self, path: str, headers: dict[str, str | None], body: dict[str, Any]) -> Outcome:
        """Decide the answer to one business call and log it.

        Faults are checked before idempotency: an outage hits replays too. A failed
        call (http500, bpmn_error) applies no effect and stores nothing, so a retry with
        the same key really runs. ``timeout`` models the lost response: the effect IS
        applied and stored, then the connection is dropped, so the retry with the same
        key must be answered from the store, without a second effect. ``lose_answer`` is the
        same loss at once and only the first time: the effect is applied and stored, the
        connection dropped with no answer; a later call with that key is answered normally
        (from the store), so a retry with the same key succeeds.
        """
        key = headers.get("idempotency_key")
        with self._lock:
            rule = self._take_rule(path, body)
            mode = rule.mode if rule else "ok"
            if mode == "http500":
                out = Outcome(500, {"error": {"code": "INTERNAL", "message": _msg(rule)}}, mode)
            elif rule is not None and mode == "bpmn_error":
                error = {"code": rule.code, "message": _msg(rule)}
                out = Outcome(422, {"error": error}, mode)
            else:
                response, replayed = self._apply(path, key, headers.get("instance_id"), body)
                lost = mode == "timeout" or (mode == "lose_answer" and not replayed)
                status = None if lost else 200
                if mode == "lose_answer" and replayed:
                    mode = "ok"
                label = "replayed" if replayed and mode == "ok" else mode
                sleep = rule.seconds if rule else 0.0
                out = Outcome(status, response, label, sleep, replayed)
            self.calls.append(
                {
                    "seq": len(self.calls) + 1,
                    "path": path,
                    **headers,
                    "body": body,
                    "time": _now(),
                    "status": out.status,
                    "outcome": out.outcome,
                    "replayed": out.replayed,
                    "response": out.body,
                }
            )
            return out

    def log_rejected(
        self,
        path: str,
        headers: dict[str, str | None],
        body: Any,
        status: int,
        error: str,
    ) -> None:
        """Log a call refused before reaching an endpoint (unknown path, bad JSON)."""
        with self._lock:
            self.calls.append(
                {
                    "seq": len(self.calls) + 1,
                    "path": path,
                    **headers,
                    "body": body,
                    "time": _now(),
                    "status": status,
                    "outcome": "rejected",
                    "replayed": False,
                    "response": {"error": {"code": "BAD_REQUEST", "message": error}},
                }
            )


def _msg(rule: FailRule | None) -> str:
    if rule and rule.message:
        return rule.message
    return f"injected {rule.mode if rule else 'fault'} on {rule.path if rule else '?'}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sleep(seconds: float) -> None:
    """Sleep outside the lock (so other calls go on); named so tests can patch it."""
    if seconds > 0:
        time.sleep(seconds)
