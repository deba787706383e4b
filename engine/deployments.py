"""A deployment's files and its removal.

Each BPMN file of a deployment is kept whole in its definition rows (``source_xml``), each DMN
file in its decision rows (``decision_source``, migration 0014), so the files can be handed back
as deployed. Deleting a deployment is refused while any instance of
its definitions has not ended (running, waiting, suspended, with an incident): those need their
definition to go on. Instances that ended are deleted with it, with every row they own
(:func:`engine.retention.owned_tables`), as Camunda's cascading deployment delete does for
history; then its definitions and the deployment itself go, in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select

from .errors import InstanceNotActive, NotFound
from .models import DecisionSource, Deployment, ProcessDefinition, ProcessInstance
from .retention import CHUNK, FINISHED, owned_tables

if TYPE_CHECKING:
    from .runtime import Engine


def deployment_file(engine: Engine, deployment_id: str, file_name: str) -> str:
    """The text of one file of a deployment (a BPMN or a DMN file), as it was deployed."""
    with engine.db.reading() as session:
        found = session.scalars(select(ProcessDefinition.source_xml).where(
            ProcessDefinition.deployment_id == deployment_id, ProcessDefinition.file_name == file_name)
            .limit(1)).first()
        if found is None:
            found = session.scalars(select(DecisionSource.source_xml).where(
                DecisionSource.deployment_id == deployment_id, DecisionSource.file_name == file_name)
                .limit(1)).first()
        if found is None:
            if session.get(Deployment, deployment_id) is None:
                raise NotFound(f"no deployment {deployment_id}")
            raise NotFound(f"deployment {deployment_id} has no file {file_name!r}")
        return found


def delete_deployment(engine: Engine, deployment_id: str) -> dict[str, Any]:
    """Delete a deployment whose instances have all ended; return what went."""
    with engine.db.transaction() as session:
        deployment = session.get(Deployment, deployment_id, with_for_update=not engine.db.is_sqlite)
        if deployment is None:
            raise NotFound(f"no deployment {deployment_id}")
        definitions = list(session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.deployment_id == deployment_id)))
        definition_ids = [d.id for d in definitions]
        mine = ProcessInstance.definition_id.in_(definition_ids or [""])
        running = session.scalar(select(func.count()).select_from(ProcessInstance)
                                 .where(mine, ProcessInstance.status.notin_(FINISHED))) or 0
        if running:
            names = ", ".join(f"{d.key} v{d.version}" for d in definitions)
            raise InstanceNotActive(f"deployment {deployment_id} ({names}) still has {running} instance(s) that "
                                    "have not ended; cancel them or let them finish first")
        ended = list(session.scalars(select(ProcessInstance.id).where(mine)))
        for start in range(0, len(ended), CHUNK):
            chunk = ended[start:start + CHUNK]
            for table, column in owned_tables():
                session.execute(delete(table).where(column.in_(chunk)))
            session.execute(delete(ProcessInstance).where(ProcessInstance.id.in_(chunk)))
        session.execute(delete(ProcessDefinition).where(ProcessDefinition.deployment_id == deployment_id))
        session.execute(delete(DecisionSource).where(DecisionSource.deployment_id == deployment_id))
        session.execute(delete(Deployment).where(Deployment.id == deployment_id))
        return {"id": deployment_id, "definitions": [{"key": d.key, "version": d.version} for d in definitions],
                "instances_deleted": len(ended)}
