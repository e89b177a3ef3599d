"""Local token counting with OpenAI's BPE encodings (``o200k_base``, ``cl100k_base``).

Upstreams with no count endpoint (Codex, OpenAI-compatible, xAI) are counted here, as CPA
counts them: the request is translated to the upstream's format, the text CPA counts is
collected (``cliproxy.translate.token_segments``) and encoded with the encoding CPA picks
for the model. No generation is ever sent upstream to count.

The encodings come from the ``bpe-openai`` package, whose compiled extension carries the
vocabularies: nothing is downloaded, ever (tiktoken would fetch its ``.tiktoken`` files on
first use). Only the extension is loaded, not the ``bpe_openai`` Python package: that
package decodes every bundled vocabulary into Python dicts when imported (about 0.5 s and
tens of MB), which counting does not need. Loading the extension takes about 1 ms and an
encoding about 60 ms the first time it is used, so the first count of each encoding loads
it on a worker thread; counting 100 KB of text takes about 3.5 ms. Longer texts are
counted in pieces cut after a newline, yielding to the event loop between pieces (a piece
boundary may shift the count by a token).
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

from cliproxy.errors import CliproxyError

__all__ = [
    "CL100K",
    "ENCODINGS",
    "O200K",
    "TokenizerUnavailable",
    "codex_encoding",
    "count",
    "count_text",
    "encoder",
    "encoding_for_model",
    "loaded",
]

O200K = "o200k_base"
CL100K = "cl100k_base"
ENCODINGS = (O200K, CL100K)

_PACKAGE = "bpe_openai"
_EXTENSION = "bpe_openai._bindings"
PIECE = 256 * 1024  # characters counted in one call before the event loop gets a turn

# model-name prefixes and their encodings, first match wins (CPA's table, with tiktoken's
# own choices for the families it names)
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-5", O200K),
    ("gpt-4.1", O200K),
    ("gpt-4o", O200K),
    ("gpt-4", CL100K),
    ("gpt-3.5", CL100K),
    ("gpt-3", CL100K),
    ("o1", O200K),
    ("o3", O200K),
    ("o4", O200K),
)

_lock = threading.Lock()
_bindings: Any = None
_encoders: dict[str, Any] = {}


class TokenizerUnavailable(CliproxyError):
    """The tokenizer package is missing or broken: the server's problem, not the client's."""

    status = 503


def encoding_for_model(model: str, default: str = O200K) -> str:
    """The encoding for an OpenAI-style model id (CPA ``TokenizerForModel``): o200k for
    the gpt-4o / gpt-4.1 / gpt-5 / o-series families, cl100k for gpt-4 and older and for
    an empty id, ``default`` for anything else (CPA: o200k for OpenAI-compatible models)."""
    name = model.strip().lower()
    if not name:
        return CL100K
    for prefix, encoding in _PREFIXES:
        if name.startswith(prefix):
            return encoding
    return default


def codex_encoding(model: str) -> str:
    """The encoding CPA's Codex executor picks: its table, cl100k for anything else.

    One deliberate difference: CPA's Codex table has no o-series rows, so ``o3`` falls to
    cl100k there; those models use o200k, and so does this table.
    """
    return encoding_for_model(model, CL100K)


def loaded(encoding: str) -> bool:
    """Whether ``encoding`` is ready (a count needs no load)."""
    return encoding in _encoders


def _load_extension() -> Any:
    """The compiled extension of ``bpe_openai``, without running the package's
    ``__init__`` (see the module docstring); shared with the package if it is imported
    later, through ``sys.modules``."""
    existing = sys.modules.get(_EXTENSION)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerUnavailable(
            "local token counting needs the bpe-openai package (pip install bpe-openai)"
        )
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_bindings{suffix}"
            if not path.is_file():
                continue
            loader = importlib.machinery.ExtensionFileLoader(_EXTENSION, str(path))
            ext_spec = importlib.util.spec_from_loader(_EXTENSION, loader)
            if ext_spec is None:
                continue
            module = importlib.util.module_from_spec(ext_spec)
            loader.exec_module(module)
            sys.modules[_EXTENSION] = module
            return module
    raise TokenizerUnavailable("the bpe-openai package has no compiled tokenizer for this platform")


def encoder(encoding: str) -> Any:
    """The encoder of ``encoding`` (loaded once; blocking: about 60 ms the first time)."""
    found = _encoders.get(encoding)
    if found is not None:
        return found
    if encoding not in ENCODINGS:
        raise TokenizerUnavailable(f"unknown token encoding {encoding!r}")
    global _bindings
    with _lock:
        found = _encoders.get(encoding)
        if found is not None:
            return found
        try:
            if _bindings is None:
                _bindings = _load_extension()
            found = _bindings.tokenizer_for_encoding(encoding)
        except TokenizerUnavailable:
            raise
        except Exception as exc:  # an incompatible build: say so, never a bare 500 trace
            raise TokenizerUnavailable(f"the {encoding} tokenizer could not be loaded: {exc}") from exc
        _encoders[encoding] = found
        return found


def count_text(encoding: str, text: str) -> int:
    """Tokens in ``text`` (blocking; loads the encoding if needed)."""
    return int(encoder(encoding).count(text)) if text else 0


async def count(encoding: str, segments: list[str]) -> int:
    """Tokens in ``segments`` joined by newlines, as CPA counts them; the first count of
    an encoding loads it off the event loop, long texts are counted piece by piece."""
    text = "\n".join(segments)
    if not text:
        return 0
    enc: Any = _encoders.get(encoding)
    if enc is None:
        enc = await asyncio.to_thread(encoder, encoding)
    if len(text) <= PIECE:
        return int(enc.count(text))
    total = 0
    start = 0
    while start < len(text):
        end = start + PIECE
        if end < len(text):
            cut = text.rfind("\n", start, end)
            end = cut + 1 if cut > start else end
        total += int(enc.count(text[start:end]))
        start = end
        await asyncio.sleep(0)
    return total
