"""``/api/v1``: acting on a selection of instances in one request, a result per instance."""

from __future__ import annotations

from flask import Response, jsonify

from .api import api, engine, identity
from .auth import requires
from .openapi import body


@api.post("/process-instances/bulk")
@requires("operator")
def bulk_instances() -> Response:
    """Cancel, suspend, resume, retry or migrate each selected instance; one refusal never stops the rest."""
    data = body()
    return jsonify({"action": data["action"], "results": engine().act_on_instances(
        data["action"], data["ids"], reason=data.get("reason"), by=identity().label,
        target_version=data.get("target_version"))})
