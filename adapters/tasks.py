"""The Celery app factory and Baton's two tasks: run a job, relay lost jobs.

Task design follows Celery's advice for work that must not be lost: ``acks_late`` (a message
is acknowledged after the task ran), ``reject_on_worker_lost`` (a killed pool child's message
goes back to the queue), ``prefetch_multiplier=1`` (a worker holds one message it is not
running at most). Tasks are idempotent: ``run_job`` claims its job with a conditional UPDATE,
so a redelivered or relayed message for a job that is done or held does nothing.

Redis keeps an unacknowledged message invisible for ``visibility_timeout``; Baton's relay takes
back a dead worker's job after its lease (the endpoint timeout + BATON_JOB_LEASE_SECONDS), so
the broker-side timeout is only a second line and is set above the longest retry countdown.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from celery import Celery, beat, signals
from celery.platforms import EX_FAILURE
from celery.worker import state as worker_state

from engine import Engine, Settings, database_unavailable, metrics

from .broker import (
    EMBEDDED_PREFIX,
    JOB_QUEUE,
    RELAY_QUEUE,
    CeleryNotifier,
    EmbeddedTransport,
    is_embedded,
    queue_depth,
    sweep_consumed,
)
from .endpoints import call_in_process
from .runner import run_job, worker_identity

log = logging.getLogger("baton.tasks")

_state: dict[str, Any] = {}


def create_celery(settings: Settings) -> Celery:
    """Build the Celery app for ``settings``. No work at import time; no global app."""
    app = Celery("baton", set_as_current=False)
    _quiet_lost_acks()
    broker_url = settings.broker_url
    conf: dict[str, Any] = {
        "broker_url": broker_url,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        # The relay has a queue of its own: a backlog of jobs does not delay it, and it never waits
        # behind (or adds to) the jobs. A relay message older than one interval is dropped unread:
        # the next one is on its way, so relay messages never pile up while no worker consumes.
        "beat_schedule": {
            "baton-relay": {"task": "baton.relay", "schedule": settings.relay_interval_seconds,
                            "options": {"queue": RELAY_QUEUE, "expires": settings.relay_interval_seconds}},
        },
        "task_routes": {"baton.relay": {"queue": RELAY_QUEUE}},
        # In memory: the relay's interval needs no state across restarts. A schedule file in
        # BATON_HOME killed beat, so the relay, when that folder did not exist (nothing creates it
        # on server backends), and two workers on one machine would share one unlocked file.
        "beat_scheduler": "adapters.tasks:RelayScheduler",
        "task_default_queue": JOB_QUEUE,
    }
    if is_embedded(broker_url):
        settings.home.mkdir(parents=True, exist_ok=True)
        conf["broker_url"] = broker_url[len(EMBEDDED_PREFIX):]
        conf["broker_transport"] = EmbeddedTransport
    elif broker_url.startswith(("redis://", "rediss://")):
        conf["broker_transport_options"] = {
            "visibility_timeout": 120,
            "unacked_restore_interval": 5,
        }
    app.conf.update(conf)
    app.conf["baton_settings"] = settings

    @app.task(name="baton.run_job", acks_late=True, reject_on_worker_lost=True)
    def run_job_task(job_id: str) -> str:
        return run_job(_engine(app), job_id)

    @app.task(name="baton.relay")
    def relay_task() -> int:
        """Send what needs sending; return how many of those were re-sends (docs/relay.md)."""
        engine = _engine(app)
        depth = queue_depth(app, JOB_QUEUE)  # read before the jobs: a stale depth only errs high
        try:
            tickets = engine.due_jobs(settings.relay_stale_seconds, queued=depth, holder=worker_identity())
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("relay: the database is not reachable (%s); next run in %s s", type(exc).__name__,
                        settings.relay_interval_seconds)
            return 0
        resent = sum(1 for t in tickets if t.resend)
        if tickets:
            log.info("relay sends %d job(s), %d of them again (queue depth %s)", len(tickets), resent, depth)
            metrics.RELAY_RESENDS.inc(resent)
            engine.notifier(tickets)
        sweep_consumed(settings.broker_url)
        return resent

    return app


class LostAckFilter(logging.Filter):
    """Celery reports an acknowledgement the broker could not take (its channel died with a broker
    restart) as CRITICAL with a traceback. Nothing is lost: an unacknowledged message is delivered
    again and its job's claim makes that a no-op. One warning line says so."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(("Couldn't ack", "Couldn't reject")):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg += " (the broker will deliver it again; its job's claim makes that harmless)"
        return True


def _quiet_lost_acks() -> None:
    target = logging.getLogger("celery.worker.request")
    if not any(isinstance(f, LostAckFilter) for f in target.filters):
        target.addFilter(LostAckFilter())


class RelayScheduler(beat.Scheduler):
    """Celery's in-memory beat scheduler, quiet while the broker is away: a relay tick that cannot
    be sent is one warning line (the next tick is a relay interval away), not a stack dump each
    time. Everything else is Celery's."""

    def apply_entry(self, entry: Any, producer: Any = None) -> None:
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception as exc:
            log.warning("beat: %s not sent (%s: %s); the broker may be away", entry.name, type(exc).__name__, exc)


def _engine(app: Celery) -> Engine:
    """One engine per worker process, made after the fork (connections must not cross it)."""
    engine = _state.get("engine")
    if engine is None:
        engine = Engine(app.conf["baton_settings"], notifier=CeleryNotifier(app), in_process=call_in_process)
        _state["engine"] = engine
    return engine


@signals.worker_process_init.connect
def _reset_after_fork(**_: Any) -> None:
    _state.pop("engine", None)


# -- supervision (docs/deployment.md) ------------------------------------------------------------
# A pool child that dies is replaced by billiard, and its job comes back (reject_on_worker_lost,
# then the claim's lease). Two things nothing replaced: the embedded beat, which is the relay's
# clock, and a child stopped mid-job by a SIGTERM sent to the whole process group (systemd's
# default, a terminal). The worker now stops with exit code 1 when its beat dies, so that its
# supervisor starts a whole one, and a pool child finishes its job before it obeys SIGTERM.

@signals.worker_ready.connect
def _watch_beat(sender: Any = None, **_: Any) -> None:
    """In the worker's main process: stop the worker (exit 1) if its embedded beat dies."""
    beat = getattr(getattr(sender, "controller", None), "beat", None)
    if beat is None:  # --no-beat
        return

    def stopping() -> bool:  # a requested stop sets should_stop to 0 (EX_OK): compare with None
        return worker_state.should_stop is not None or worker_state.should_terminate is not None

    def watch() -> None:
        while not stopping():
            time.sleep(1.0)
            if not beat.is_alive():
                time.sleep(1.0)  # a SIGTERM to the whole group ends the beat and the worker together
                if stopping():
                    return
                log.error("the worker's beat (the relay's clock) died; stopping so that it is restarted whole")
                _state["exit_code"] = EX_FAILURE  # Celery's own exit code says 0 after a warm shutdown
                worker_state.should_stop = EX_FAILURE  # the worker's loop turns this into a warm shutdown
                return

    threading.Thread(target=watch, name="baton-beat-watch", daemon=True).start()


def worker_exit_code(celery_code: int) -> int:
    """The exit code of ``baton worker``: 0 only after a requested stop (SIGTERM, SIGINT).

    Celery says 0 too when its pool could not start (a pool process killed at start-up ends the
    worker with ``WorkerLostError('Could not start worker processes')``); a supervisor that
    restarts on failure must see one."""
    if celery_code:
        return celery_code
    if _state.get("exit_code"):
        return int(_state["exit_code"])
    return 0 if _state.get("stop_requested") else EX_FAILURE


@signals.worker_shutting_down.connect
def _stop_requested(**_: Any) -> None:
    _state["stop_requested"] = True


@signals.task_prerun.connect
def _busy(**_: Any) -> None:
    _state["busy"] = True
    if "default_term" not in _state:  # here, not at worker_process_init: billiard sets its own after that
        _state["default_term"] = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _term_in_child)


@signals.task_postrun.connect
def _idle(**_: Any) -> None:
    _state["busy"] = False
    if _state.pop("term_pending", False):  # obey the SIGTERM once the result is back with the parent
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()


def _term_in_child(signum: int, frame: Any) -> None:
    """A pool child's SIGTERM: finish the job in hand (its result is committed and acknowledged),
    then stop; an idle child stops at once, as billiard would have it."""
    if _state.get("busy"):
        _state["term_pending"] = True
        log.warning("pool process %d: SIGTERM during a job; finishing it first", os.getpid())
        return
    default = _state.get("default_term")
    if callable(default):
        default(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
