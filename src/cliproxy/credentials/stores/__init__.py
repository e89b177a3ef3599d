"""Token stores: the config and auth files kept in Postgres, a git repository or S3-compatible
object storage instead of only on the local disk, as CPA's ``PGSTORE_*``, ``GITSTORE_*`` and
``OBJECTSTORE_*`` environment variables select (``base.settings_from_env``).

The backends import their client library (psycopg, git, boto3) at the top of their own
module, so ``cliproxy.credentials.stores.postgres`` / ``.git`` / ``.objects`` are imported
only when their store is chosen (``cliproxy.serving`` does that).
"""

from .base import StoreError, StoreSettings, TokenStore, settings_from_env
from .mirror import Mirror

__all__ = ["Mirror", "StoreError", "StoreSettings", "TokenStore", "settings_from_env"]
