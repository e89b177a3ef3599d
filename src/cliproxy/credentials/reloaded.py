"""What a reload of the credential set changed for the cooldowns (:meth:`Pool.replace`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .record import Credential

__all__ = ["changed_ids", "file_missing", "gone_for_good"]


def changed_ids(
    old: Mapping[str, Credential],
    new: Mapping[str, Credential],
    revived: set[str],
    cooling_was_off: bool,
    cooling_off: bool,
) -> list[str]:
    """The ids of ``new`` whose tokens changed or that are or were disabled (their refusals
    are forgotten), and those to keep no cooldown at all, which also go into ``revived``:
    re-enabled ones, and those for which cooling was just turned off (``disable-cooling``,
    their own or, unset, the global one: ``cooling_was_off`` at the last reload, ``cooling_off``
    now), whose cooldowns CPA clears when a config turns it on."""
    changed = []
    for key, cred in new.items():
        if (prev := old.get(key)) is None:
            continue
        switched = cooling_off and not cooling_was_off and cred.disable_cooling is None
        if prev is cred and not cred.disabled and not switched:
            continue  # the same object, and cooling not just turned off for it: nothing changed
        was_off = cooling_was_off if prev.disable_cooling is None else prev.disable_cooling
        now_off = cooling_off if cred.disable_cooling is None else cred.disable_cooling
        if (prev.disabled and not cred.disabled) or (now_off and not was_off):
            revived.add(key)
            changed.append(key)
            continue
        tokens = (prev.access_token, prev.refresh_token) != (cred.access_token, cred.refresh_token)
        if tokens or prev.disabled or cred.disabled:
            changed.append(key)
    return changed


def gone_for_good(old: Mapping[str, Credential], new: Mapping[str, Credential]) -> list[Credential]:
    """The credentials of ``old`` that ``new`` lacks and that will not come back as they
    were: each one's auth file is no longer on disk, or it had none (a config key removed,
    a relay gone). A file still there (unreadable for now, being rewritten, or taken by its
    plugin under another id) is not gone: its credential may come back."""
    return [
        cred for key, cred in old.items() if key not in new and (cred.path is None or file_missing(cred.path))
    ]


def file_missing(path: Path) -> bool:
    """The file is not there (a stat that fails otherwise, say for a permission, is no proof)."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False
