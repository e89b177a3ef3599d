"""Logs, request logs, error logs and the usage queue."""

from __future__ import annotations

from cliproxy.management.api import Route

__all__ = ["ROUTES"]

ROUTES: list[Route] = []
