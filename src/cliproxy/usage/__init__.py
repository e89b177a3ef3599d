"""Request logs, error-log files, the application log file and the usage record queue.

``Recorder`` (one per service) owns them; ``hooks.begin_trace`` opens a ``RequestTrace``
for a generation request, which the server and the pipeline feed and which is written
off the event loop when the request ends.
"""

from __future__ import annotations

from cliproxy.usage.hooks import begin_trace, open_trace, recorder_of
from cliproxy.usage.recorder import Recorder, log_directory
from cliproxy.usage.trace import RequestTrace

__all__ = ["Recorder", "RequestTrace", "begin_trace", "log_directory", "open_trace", "recorder_of"]
