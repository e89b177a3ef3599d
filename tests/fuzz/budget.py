"""How hard the fuzz suite tries: small and fixed in CI, ``--fuzz-long`` for manual runs.

``tests/fuzz/conftest.py`` fills ``OPTIONS`` from the command line before the test
modules are imported, so ``fuzz_settings`` can be used as a decorator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, seed, settings

__all__ = ["LONG_FACTOR", "OPTIONS", "fuzz_settings"]

LONG_FACTOR = 50
OPTIONS: dict[str, Any] = {"long": False, "seed": None}


def fuzz_settings(examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings for one fuzz test: ``examples`` in CI, x50 with ``--fuzz-long``.

    CI runs are derandomized (the same examples every run); ``--fuzz-seed N`` explores
    a different, reproducible set.
    """
    count = examples * LONG_FACTOR if OPTIONS["long"] else examples
    chosen = OPTIONS["seed"]
    config = settings(
        max_examples=count,
        deadline=None,
        derandomize=chosen is None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        print_blob=False,
        report_multiple_bugs=False,
    )

    def apply(test: Any) -> Any:
        test = config(test)
        return seed(chosen)(test) if chosen is not None else test

    return apply
