"""Credentials: records, sources (config keys, auth-dir files), the pool and cooldowns.

Import names from the module that owns them (``cliproxy.credentials.pool.Pool``...).
"""
