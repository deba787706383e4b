"""``python -m tests.chaos``: the chaos run by hand, at any size.

    python -m tests.chaos --instances 2000 --kill-every 2 --duration 300
    python -m tests.chaos --broker redis --instances 300 --duration 60 --keep

Prints the summary table and every broken invariant; exits 1 when one broke (the run's folder,
with every process's log, is then kept and named).
"""

from __future__ import annotations

import argparse
import sys

from .driver import ChaosConfig, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = ChaosConfig()
    parser.add_argument("--instances", type=int, default=defaults.instances)
    parser.add_argument("--duration", type=float, default=defaults.duration, help="seconds of chaos")
    parser.add_argument("--kill-every", type=float, default=defaults.kill_every,
                        help="SIGKILL a random worker every N seconds (0: never)")
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--broker", choices=("rabbitmq", "redis"), default=defaults.broker)
    parser.add_argument("--no-broker-restart", dest="restart_broker", action="store_false")
    parser.add_argument("--no-postgres-restart", dest="restart_postgres", action="store_false")
    parser.add_argument("--no-web-kill", dest="kill_web", action="store_false")
    parser.add_argument("--fail-share", type=float, default=defaults.fail_share)
    parser.add_argument("--lose-share", type=float, default=defaults.lose_share)
    parser.add_argument("--quiesce-timeout", type=float, default=defaults.quiesce_timeout)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the run's folder even when it passed")
    args = parser.parse_args(argv)
    config = ChaosConfig(**{k: v for k, v in vars(args).items()})
    report = run(config)
    print(report.table())
    for violation in report.violations[:200]:
        print("VIOLATION:", violation)
    if len(report.violations) > 200:
        print(f"... and {len(report.violations) - 200} more")
    if not report.ok or config.keep:
        print(f"the run's folder (logs, database): {report.folder}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
