"""``python -m cliproxy`` runs the ``cliproxy`` command."""

import sys

from cliproxy.cli import main

sys.exit(main())
