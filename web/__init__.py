"""Baton's web face: ``create_app`` builds the Flask app (REST API + operator UI)."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
