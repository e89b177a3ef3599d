"""Credential files: list, upload, download, delete, status, fields, models."""

from __future__ import annotations

from cliproxy.management.api import Route

__all__ = ["ROUTES"]

ROUTES: list[Route] = []
