"""CLI: ``python -m processes.services --host 127.0.0.1 --port 8010 [--fail PATH=MODE]``.

``--fail`` exists so a manual demo can start the services already broken (say,
shipping down) without a separate curl to ``/_control/fail``.
"""

from __future__ import annotations

import argparse

from .server import make_server
from .state import FAIL_MODES, FailRule


def parse_fail(spec: str) -> FailRule:
    """``/shipping/create=bpmn_error[:CODE]`` or ``/payment/charge=slow[:SECONDS]``.

    The rule applies to every call (count -1); use ``/_control/fail`` for a count.
    """
    path, sep, rest = spec.partition("=")
    if not sep or not path.startswith("/"):
        raise argparse.ArgumentTypeError(f"expected PATH=MODE, got {spec!r}")
    mode, _, arg = rest.partition(":")
    if mode not in FAIL_MODES:
        raise argparse.ArgumentTypeError(f"mode must be one of {', '.join(FAIL_MODES)}")
    rule = FailRule(path=path, mode=mode)
    if arg and mode == "bpmn_error":
        rule.code = arg
    elif arg and mode in ("slow", "timeout"):
        try:
            rule.seconds = float(arg)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"bad seconds in {spec!r}") from exc
    return rule


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, install startup faults and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m processes.services", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument(
        "--fail",
        type=parse_fail,
        action="append",
        default=[],
        metavar="PATH=MODE[:ARG]",
        help="inject a fault on every call",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-request log")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.host, args.port, quiet=args.quiet)
    except ValueError as exc:
        parser.error(str(exc))
    for rule in args.fail:
        server.state.set_rule(rule)
    print(f"Baton demo services on {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
