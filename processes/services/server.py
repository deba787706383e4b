"""HTTP layer of the demo services: one stdlib ThreadingHTTPServer for every endpoint.

Stdlib only (no Flask) so the services start anywhere the engine's venv exists and
cannot be confused with Baton's own web app. Threaded so a ``slow``/``timeout`` fault
on one path does not hold up calls to the others.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import state as state_mod
from .state import ENDPOINTS, FailRule, ServiceState


class ServicesServer(ThreadingHTTPServer):
    """The server, carrying the shared :class:`ServiceState` for its handlers."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: ServiceState, quiet: bool = False) -> None:
        self.state = state
        self.quiet = quiet
        super().__init__(address, ServicesHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that went away mid-call (a killed worker) is not the services' error: one line,
        no traceback; anything else is reported as the stdlib does."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            if not self.quiet:
                sys.stderr.write(f"[services] {client_address[0]}:{client_address[1]} went away mid-call\n")
            return
        super().handle_error(request, client_address)

    def shutdown(self) -> None:
        """Stop serve_forever and release the port, so a test can rebind it at once."""
        super().shutdown()
        self.server_close()

    @property
    def base_url(self) -> str:
        """``http://host:port`` with the port actually bound (useful with port 0)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class ServicesHandler(BaseHTTPRequestHandler):
    """Routes ``/_control/*`` to the control API and everything else to ENDPOINTS."""

    protocol_version = "HTTP/1.1"
    server: ServicesServer

    # -- plumbing -----------------------------------------------------------------

    def log_message(self, fmt: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write(f"[services] {self.address_string()} {fmt % args}\n")

    def _path(self) -> str:
        return urlsplit(self.path).path.rstrip("/") or "/"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _call_headers(self) -> dict[str, str | None]:
        return {
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "instance_id": self.headers.get("X-Baton-Instance-Id"),
            "traceparent": self.headers.get("traceparent"),
        }

    # -- verbs --------------------------------------------------------------------

    def do_GET(self) -> None:
        path, st = self._path(), self.server.state
        if path == "/_control/health":
            self._send(200, {"ok": True})
        elif path == "/_control/calls":
            self._send(200, st.snapshot())
        elif path == "/_control/fail":
            self._send(200, {"rules": st.rules()})
        elif path in ENDPOINTS:
            self._send(405, {"error": {"code": "METHOD_NOT_ALLOWED", "message": "use POST"}})
        else:
            self._send(404, {"error": {"code": "NOT_FOUND", "message": path}})

    def do_POST(self) -> None:
        path, raw = self._path(), self._read_body()
        if path.startswith("/_control/"):
            self._control(path, raw)
            return
        headers = self._call_headers()
        st = self.server.state
        if path not in ENDPOINTS:
            st.log_rejected(path, headers, raw.decode(errors="replace"), 404, "unknown path")
            self._send(404, {"error": {"code": "NOT_FOUND", "message": path}})
            return
        body, error = _parse_object(raw)
        if body is None:
            st.log_rejected(path, headers, raw.decode(errors="replace"), 400, error)
            self._send(400, {"error": {"code": "BAD_REQUEST", "message": error}})
            return
        out = st.handle(path, headers, body)
        state_mod.sleep(out.sleep)
        if out.status is None:
            # Lost response (timeout, lose_answer): close without answering; the effect is applied.
            self.close_connection = True
            return
        extra = {"Idempotent-Replayed": "true"} if out.replayed else None
        self._send(out.status, out.body, extra)

    def _control(self, path: str, raw: bytes) -> None:
        st = self.server.state
        if path == "/_control/reset":
            st.reset()
            self._send(200, {"ok": True})
            return
        if path != "/_control/fail":
            self._send(404, {"error": {"code": "NOT_FOUND", "message": path}})
            return
        try:
            spec = json.loads(raw or b"{}")
            rule = FailRule(
                path=str(spec["path"]),
                mode=str(spec.get("mode", "http500")),
                count=int(spec.get("count", -1)),
                code=str(spec.get("code") or ""),
                message=str(spec.get("message") or ""),
                seconds=float(spec.get("seconds") or 0),
                match=dict(spec.get("match") or {}),
            )
            st.set_rule(rule)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._send(400, {"error": {"code": "BAD_REQUEST", "message": repr(exc)}})
            return
        self._send(200, {"ok": True, "rules": st.rules()})


def _parse_object(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The body as a JSON object (empty body = ``{}``), or None and the reason."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        return None, f"body is not JSON: {exc}"
    if not isinstance(body, dict):
        return None, "body must be a JSON object"
    return body, ""


def make_server(
    host: str = "127.0.0.1",
    port: int = 8010,
    state: ServiceState | None = None,
    quiet: bool = False,
) -> ServicesServer:
    """Bind (but do not start) the services; refuses any host but loopback."""
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"demo services bind loopback only, not {host!r}")
    return ServicesServer((host, port), state or ServiceState(), quiet=quiet)


def start_in_thread(host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> tuple[ServicesServer, str]:
    """Start the services in a daemon thread for tests; ``server.shutdown()`` stops them.

    Port 0 picks a free port, so parallel test runs do not collide; the real one is in
    the returned base URL.
    """
    server = make_server(host, port, quiet=quiet)
    thread = threading.Thread(target=server.serve_forever, name="baton-services", daemon=True)
    thread.start()
    return server, server.base_url
