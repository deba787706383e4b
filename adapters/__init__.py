"""Edges around the engine: Celery wiring, endpoint adapters, the embedded broker."""
