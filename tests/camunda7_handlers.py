"""Python endpoints the Camunda 7 tests bind Java delegates to (``[delegates."..."]``)."""

from __future__ import annotations

from typing import Any


def send_invoice(variables: dict[str, Any]) -> dict[str, Any]:
    """What ``com.acme.SendInvoice`` did in Java: mark the invoice sent, for its amount."""
    return {"invoiceSent": True, "sentAmount": variables["amount"]}


def greet(variables: dict[str, Any]) -> dict[str, Any]:
    return {"greeting": f"Hello {variables['name']}"}
