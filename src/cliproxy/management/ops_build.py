"""Build information sent on every management response (CPA's ``X-CPA-*`` headers).

The commit and build date come from ``CLIPROXY_COMMIT`` / ``CLIPROXY_BUILD_DATE`` when a
packager sets them; otherwise CPA's placeholders for a development build are used.
"""

from __future__ import annotations

import os

from cliproxy import __version__

__all__ = ["build_headers"]


def build_headers() -> dict[str, str]:
    """``X-CPA-VERSION``, ``X-CPA-COMMIT``, ``X-CPA-BUILD-DATE``, ``X-CPA-SUPPORT-PLUGIN``."""
    return {
        "X-CPA-VERSION": __version__,
        "X-CPA-COMMIT": os.environ.get("CLIPROXY_COMMIT", "").strip() or "none",
        "X-CPA-BUILD-DATE": os.environ.get("CLIPROXY_BUILD_DATE", "").strip() or "unknown",
        "X-CPA-SUPPORT-PLUGIN": "1",  # plugins (native ones included) are always supported
    }
