"""Baton's demo processes: BPMN diagrams, the endpoint map and the demo services.

A package (rather than a bare folder) so ``python -m processes.services`` and the
``processes.handlers:audit_log`` reference in ``endpoints.toml`` both import.
"""
