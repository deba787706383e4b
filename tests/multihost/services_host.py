"""The demo services on a namespace's own address: ``python -m tests.multihost.services_host HOST PORT``.

``python -m processes.services`` binds loopback only (a demo must not be reachable from outside
the machine). Inside a private network namespace made by the multihost test, the namespace's
address is as private as loopback, so this launcher builds the same server on it.
"""

from __future__ import annotations

import sys

from processes.services.server import ServicesServer
from processes.services.state import ServiceState


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    if not host.startswith("10.231."):
        raise SystemExit(f"only an address of the multihost test's private subnet, not {host!r}")
    server = ServicesServer((host, port), ServiceState(), quiet=True)
    print(f"demo services on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
