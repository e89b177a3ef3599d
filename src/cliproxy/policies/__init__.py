"""Client keys as policies: model allowlists, rate limits, budgets, expiry (docs/keys.md).

``rules`` compiles the config's ``api-keys`` mappings, ``enforce`` applies them on the
request path (counters in ``cliproxy.state``), ``prices`` turns usage into cost.
"""
