"""Shared runtime state: the :class:`~cliproxy.state.base.StateBackend` contract and backends."""
