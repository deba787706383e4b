"""`baton run` (what `make run` calls): migrates, deploys processes/, serves the UI, stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import PROCESSES, ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_baton_run_serves_the_ui_with_the_bundled_processes_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = dict(os.environ, BATON_HOME=str(tmp_path / "home"), BATON_PORT=str(port), BATON_DATABASE_URL="",
               BATON_BROKER_URL="", BATON_ADMIN_PASSWORD="correct horse battery staple")
    proc = subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--no-services"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the web server did not come up within 60 s"
            time.sleep(0.3)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code in (200, 302)

        from engine import Engine, Settings

        engine = Engine(Settings(home=tmp_path / "home"))
        keys = {d["key"] for d in engine.list_definitions()}
        engine.close()
        assert {p.stem for p in PROCESSES.glob("*.bpmn")} <= keys
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    # every child went with it: nothing listens on the port any more
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
