"""Process variables as Baton takes them in: a JSON object of JSON values."""

from __future__ import annotations

import json
from typing import Any

from .errors import InvalidVariables


def check_variables(variables: Any) -> dict[str, Any]:
    """Variables are a JSON object of JSON values; anything else is refused up front."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidVariables("variables must be a JSON object")
    try:
        copy = json.loads(json.dumps(variables, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidVariables(f"variables are not JSON: {exc}") from exc
    if copy != variables:
        raise InvalidVariables("variables must be plain JSON values")
    return copy
