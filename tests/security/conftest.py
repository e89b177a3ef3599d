"""Security tests reuse the real-listener fixture of the fault tests."""

from tests.faults.conftest import start_edge

__all__ = ["start_edge"]
