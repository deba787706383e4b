"""Failed logins counted per user name and per client address (``web/auth.py`` asks it)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Failed logins per user name and per client address in a sliding window.

    Kept in memory, on purpose: a throttle needs no durability (a restart forgets it, and the
    slow password hash still bounds guessing), and a database row per failed attempt would let
    anyone turn failed logins into database writes. The cost: each web process counts on its own,
    so N processes give a guesser N times the budget; with several, rate-limit ``/login`` at
    the proxy too. Only failures count; a success clears the user name's count; a refused
    attempt checks no password and does not extend the wait.
    """

    def __init__(self, per_user: int = 5, per_address: int = 20, window: float = 900.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.per_user, self.per_address, self.window, self.max_keys = per_user, per_address, window, max_keys
        self.clock = clock  # tests move time themselves: a slow machine must not slide the window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.get(key, deque())
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def wait_seconds(self, user: str, address: str) -> float:
        """0 when an attempt may go ahead, else how long until one may."""
        now = self.clock()
        with self._lock:
            waits = [0.0]
            for key, limit in ((f"u:{user.lower()}", self.per_user), (f"a:{address}", self.per_address)):
                recent = self._recent(key, now)
                if len(recent) >= limit:
                    waits.append(recent[len(recent) - limit] + self.window - now)
            return max(waits)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.max_keys:  # forget the stalest keys rather than grow
                for key in sorted(self._failures, key=lambda k: self._failures[k][-1] if self._failures[k] else 0)[
                        : self.max_keys // 10]:
                    del self._failures[key]
            for key in (f"u:{user.lower()}", f"a:{address}"):
                self._failures[key] = self._recent(key, now)
                self._failures[key].append(now)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(f"u:{user.lower()}", None)
