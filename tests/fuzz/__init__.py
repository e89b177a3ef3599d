"""The fuzz suite: hostile bodies, bytes and headers on every client generation route.

Runs in the normal ``pytest`` run with small, derandomized example counts (about 15 s).
For a manual hunt: ``pytest tests/fuzz --fuzz-long`` (50x the examples) and
``--fuzz-seed N`` (a different, reproducible set of examples).

Layout: ``wire.py`` a raw HTTP client; ``strategies.py`` / ``bodies.py`` / ``rich.py`` what
to send; ``oracle.py`` what a good answer is; ``env.py`` the proxy under test and the
checks after every example (logs, cooldowns); ``test_bodies`` / ``test_raw`` /
``test_headers`` hostile requests, ``test_upstream_faults`` failing upstreams,
``test_regressions`` the translator crashes the suite found.
"""
