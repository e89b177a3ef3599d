"""Record and replay (``cliproxy record`` / ``cliproxy replay``, docs/record-replay.md).

Recording itself is a consumer of the request trace (``cliproxy.usage.recording``); this
package holds what runs around a proxy: the config template a recording carries, the
recorded upstream server, the structural diff and the replay driver.
"""

from __future__ import annotations
