"""Keep CPU cores busy, for a bounded time, to test Baton on a loaded machine.

    python bench/burn.py                           # burn every core for 60 s
    python bench/burn.py --seconds 900 -- CMD ...  # run CMD while burning; stop burning when it ends

With a command, its exit status is this script's. Each burner is a process that spins until its
own deadline, so none outlives ``--seconds`` even if this script is killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


def spin(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    x = 0
    while time.monotonic() < deadline:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def start_burners(count: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    """``count`` processes spinning for ``seconds`` each (a separate process per core)."""
    code = f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); import burn; burn.spin({seconds!r})"
    return [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL) for _ in range(count)]


def stop_burners(burners: Sequence[subprocess.Popen[bytes]]) -> None:
    for burner in burners:
        if burner.poll() is None:
            burner.kill()
    for burner in burners:
        burner.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="burner processes (default: cores)")
    parser.add_argument("--seconds", type=float, default=60.0, help="upper bound on how long to burn")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run while burning")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    burners = start_burners(args.workers, args.seconds)
    print(f"burn: {args.workers} burner(s), at most {args.seconds:g} s", file=sys.stderr, flush=True)
    try:
        if not command:
            for burner in burners:
                burner.wait()
            return 0
        child = subprocess.Popen(command)
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()
    finally:
        stop_burners(burners)


if __name__ == "__main__":
    sys.exit(main())
