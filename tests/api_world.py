"""A small Baton with one of everything the API and UI act on, for the auth and API tests.

``build_world`` deploys the bundled processes and leaves: an instance waiting at a user task,
one stopped by an incident, one completed, an API token and a user, so a test can call every
route with ids that exist (a refusal then proves something; a 404 would prove nothing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.auth_helpers import PASSWORD
from tests.conftest import PROCESSES


@dataclass
class World:
    engine: Any
    waiting: str  # at the user task review_application
    incident_instance: str
    incident: str
    completed: str
    task: str
    token_id: str
    user: str
    deployment: str

    def path_values(self) -> dict[str, Any]:
        """A value for every URL parameter name the app's routes use."""
        return {"key": "order_fulfillment", "version": 1, "instance_id": self.waiting, "element_id":
                "review_application", "task_id": self.task, "incident_id": self.incident, "token_id": self.token_id,
                "name": self.user, "deployment_id": self.deployment, "file_name": "order_fulfillment.bpmn",
                "decision_id": "shipping_costs",  # none deployed: a reader gets a 404, a refused caller less
                "definition_id": self.engine.list_definitions()[0]["versions"][0]["id"],  # /engine-rest
                "unknown": "no/such/resource"}


def drain_until(engine: Any, done: Any, timeout: float = 20.0) -> None:
    """Run due jobs in this process until ``done()`` (retries are scheduled a little later)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the world did not settle"
        engine.driver.drain()
        time.sleep(0.02)


def build_world(engine: Any, services: str) -> World:
    engine.deploy([(p.name, p.read_bytes()) for p in sorted(PROCESSES.glob("*.bpmn"))], name="bundled")
    waiting = engine.start("user_registration", {"email": "w@example.org"}, business_key="world-waiting")
    completed = engine.start("order_fulfillment", {"amount": 3}, business_key="world-done")
    drain_until(engine, lambda: engine.get_instance(completed, history=False)["status"] == "completed")
    httpx.post(f"{services}/_control/fail", json={"path": "/inventory/reserve", "mode": "http500", "count": -1})
    broken = engine.start("order_fulfillment", {"amount": 4}, business_key="world-incident")
    drain_until(engine, lambda: engine.get_instance(broken, history=False)["status"] == "incident")
    httpx.post(f"{services}/_control/reset")
    drain_until(engine, lambda: engine.get_instance(waiting, history=False)["status"] == "waiting")
    [task] = engine.list_user_tasks(instance_id=waiting)
    [incident] = engine.get_instance(broken, history=False)["incidents"]
    record, _ = engine.create_token("viewer", "world")
    engine.create_user("world-user", "viewer", PASSWORD)
    deployment = engine.list_deployments()["items"][0]["id"]
    return World(engine, waiting, broken, incident["id"], completed, task["id"], record["id"], "world-user",
                 deployment)


def snapshot(engine: Any) -> dict[str, Any]:
    """Everything a mutation could change, to compare before and after."""
    instances = engine.find_instances(limit=500)["items"]
    return {
        "instances": sorted((i["id"], i["status"], i["updated_at"]) for i in instances),
        "incidents": sorted((i["id"], i["resolved_at"]) for i in engine.find_incidents(state="all")),
        "tasks": sorted((t["id"], t["claimed_by"]) for t in engine.list_user_tasks()),
        "deployments": engine.list_deployments()["total"],
        "tokens": sorted((t["id"], t["revoked_at"]) for t in engine.list_tokens(include_revoked=True)),
        "users": sorted((u["name"], u["role"]) for u in engine.list_users()),
    }
