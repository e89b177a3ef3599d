"""The usage sniffer every wire format offers for same-format (passthrough) streams."""

from __future__ import annotations

from abc import ABC, abstractmethod

from cliproxy.formats import ir

__all__ = ["UsageSniffer"]


class UsageSniffer(ABC):
    """Reads usage from a same-format (passthrough) stream without translating it.

    Cheap: it should skip frames that cannot hold usage without parsing them.
    """

    usage: ir.Usage | None = None

    @abstractmethod
    def feed(self, chunk: bytes) -> None: ...
