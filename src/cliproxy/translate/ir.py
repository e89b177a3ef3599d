"""The IR under its historical name: it lives in :mod:`cliproxy.formats.ir` (the wire
formats speak it, and they sit below the translation hub)."""

from __future__ import annotations

from cliproxy.formats.ir import *  # noqa: F403
from cliproxy.formats.ir import __all__ as __all__
