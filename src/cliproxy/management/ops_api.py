"""Operations: reset-quota, api-call, OAuth login endpoints."""

from __future__ import annotations

from cliproxy.management.api import Route

__all__ = ["ROUTES"]

ROUTES: list[Route] = []
