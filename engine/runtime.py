"""The engine object: one per process, shared by web requests, CLI commands and workers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from . import logs, metrics
from ._bpmn import sandbox
from ._bpmn.workflow import BatonWorkflow, DefinitionSpecs, WorkflowCodec
from .config import Settings
from .db import Database
from .endpoints import EndpointMap
from .in_process import InProcessCaller
from .jobs import JobTicket

Notifier = Callable[[list[JobTicket]], None]


class _LRU:
    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, key: Any) -> None:
        with self._lock:
            self._items.pop(key, None)

    def pop(self, key: Any) -> Any:
        with self._lock:
            return self._items.pop(key, None)


class Engine:
    """Wires settings, the database, the endpoint map and the notifier together.

    ``notifier`` is called with the jobs that became runnable, after their transaction commits;
    ``adapters`` plugs Celery in there. Without one, jobs wait for the relay or a direct
    :meth:`run_due_jobs`-style driver (tests, benchmarks).
    """

    def __init__(self, settings: Settings, *, notifier: Notifier | None = None,
                 endpoints: EndpointMap | None = None, in_process: InProcessCaller | None = None):
        self.settings = settings
        # Calls an in-process (Python callable) endpoint inside an advance (``in_process.py``);
        # without one, every service task is a job.
        self.in_process = in_process
        metrics.configure(settings)  # every Baton process makes an Engine first: web, worker child, CLI
        logs.configure(settings.log_format)
        self.db = Database(settings.database_url, idle_transaction_seconds=settings.idle_transaction_seconds)
        self.codec = WorkflowCodec()
        self.endpoints = endpoints if endpoints is not None else EndpointMap.load(settings.endpoints)
        self.notifier: Notifier = notifier or (lambda tickets: None)
        self._specs = _LRU(256)
        self._workflows = _LRU(512)
        self._job_instances = _LRU(4096)
        # Sandbox processes start in the background now, so the first script finds one ready.
        sandbox.warm(settings.sandbox_pool)

    # -- caches (private to the engine package) -------------------------------------------
    def _spec(self, definition_id: str) -> DefinitionSpecs:
        """A definition version's specs and bindings, restored once per process (they never change)."""
        found = self._specs.get(definition_id)
        if found is None:
            from sqlalchemy import select

            from .models import ProcessDefinition

            with self.db.reading() as session:
                spec_json, bindings = session.execute(
                    select(ProcessDefinition.spec_json, ProcessDefinition.bindings)
                    .where(ProcessDefinition.id == definition_id)).one()
            found = self.codec.spec_from_json(spec_json)
            found.bindings = bindings or {}
            self._specs.put(definition_id, found)
        return found

    def _cached_workflow(self, instance_id: str, revision: int, *, take: bool = False) -> BatonWorkflow | None:
        found = self._workflows.pop(instance_id) if take else self._workflows.get(instance_id)
        if found is not None and found[0] == revision:
            return found[1]
        return None

    def _remember_workflow(self, instance_id: str, revision: int, workflow: BatonWorkflow | None) -> None:
        if workflow is None:
            self._workflows.drop(instance_id)
        else:
            self._workflows.put(instance_id, (revision, workflow))

    def close(self) -> None:
        self.db.dispose()

    # -- the public operations are bound below, from their modules ------------------------
    from .attempts import record_attempt  # noqa: E402
    from .bulk import act_on_instances  # noqa: E402
    from .call_cancellation import cancel_called_instances  # noqa: E402
    from .continuations import continue_job  # noqa: E402
    from .decisions import get_decision, list_decisions  # noqa: E402
    from .definitions import deploy  # noqa: E402
    from .deployments import delete_deployment, deployment_file  # noqa: E402
    from .element_counts import element_counts  # noqa: E402
    from .external_task_operations import list_external_tasks, set_external_retries  # noqa: E402
    from .external_tasks import (  # noqa: E402
        complete_external_task,
        extend_external_lock,
        external_bpmn_error,
        fail_external_task,
        fetch_and_lock,
        get_external_task,
        lock_external_task,
        unlock_external_task,
    )
    from .incident_detail import incident_detail, note_incident, set_incident_retries  # noqa: E402
    from .instance_actions import cancel, complete_user_task, resume, retry_incident, suspend  # noqa: E402
    from .instance_durations import instance_durations  # noqa: E402
    from .instances import advance, start  # noqa: E402
    from .jobs import claim_job, due_jobs, release_job  # noqa: E402
    from .messages import broadcast_signal, correlate  # noqa: E402
    from .modification import modify_instance, restart_instance  # noqa: E402
    from .monitoring import (  # noqa: E402
        changes_token,
        definition_keys,
        find_incidents,
        find_instances,
        instance_history,
        instance_view,
        lookup_instances,
        monitor_overview,
        worker_health,
    )
    from .outcomes import (  # noqa: E402
        complete_job,
        complete_job_and_take_next,
        fail_job,
        finish_publish,
        fire_timer,
        return_from_child,
        start_child,
    )
    from .queries import (  # noqa: E402
        definition_xml,
        get_compensation,
        get_deployment,
        get_instance,
        list_definitions,
        list_deployments,
        list_incidents,
        list_instances,
        open_tasks,
    )
    from .retention import prune_history  # noqa: E402
    from .trace import record_bus_event, trace  # noqa: E402
    from .users import (  # noqa: E402
        authenticate,
        create_token,
        create_user,
        delete_user,
        ensure_admin,
        list_tokens,
        list_users,
        revoke_token,
        session_user,
        token_identity,
        update_user,
    )
    from .usertasks import (  # noqa: E402
        claim_user_task,
        complete_user_task_by_id,
        get_user_task,
        list_user_tasks,
        start_form,
        task_form_reference,
        validate_start_form,
    )
    from .variable_edits import edit_variables  # noqa: E402
    from .version_migration import element_kinds, latest_version, migrate_instances, migration_plan  # noqa: E402
