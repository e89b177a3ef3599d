"""The intermediate representation (IR) every format translates to and from.

It lives in ``cliproxy.formats`` (the bottom layer) because the wire formats themselves
speak it: their usage sniffers and stop-reason maps return IR values, and the translation
hub above them (``cliproxy.translate``) builds on it. ``cliproxy.translate.ir`` re-exports
it under its old name.

The IR is a superset of the four wire formats: what one format can say, the IR can
hold, so a request or response that goes A -> IR -> A comes back with every field it
had. Conventions every adapter follows:

* Plain dataclasses with ``slots=True``; no validation on the hot path.
* ``extras`` on a node holds the wire keys of its *source* format that have no IR
  field (``cache_control`` on a block, ``context_management`` on a Claude request...).
  A builder writes a node's extras back only when it builds the same format the node
  came from (``Request.source`` / ``Response.source``), or for keys it knows how to
  carry (documented in that builder). Keys starting with ``_`` are private markers of
  an adapter (e.g. ``_instructions`` for a Responses ``instructions`` string).
* Reasoning artifacts (Claude ``signature``, Gemini ``thoughtSignature``, OpenAI
  ``encrypted_content``) sit on the block they belong to, tagged with the provider
  family that made them (``"claude"``, ``"gemini"``, ``"openai"``). A builder sends an
  artifact only to the family that made it (see ``cliproxy.formats.family_of``).
* System content is a message with role ``system`` (or ``developer``) anywhere in
  ``Request.messages``; builders hoist the leading ones to their format's system slot
  (Claude ``system``, Gemini ``systemInstruction``, Codex ``instructions``) and carry
  the mid-conversation ones as their format allows.
* Tool-call ``arguments`` are a JSON text (OpenAI's choice); builders for formats that
  want an object parse it (an unparsable text becomes ``{}`` for them).
* Usage follows OpenAI's totals: ``input_tokens`` includes cache reads and writes,
  ``output_tokens`` includes reasoning. Claude and Gemini adapters convert.

Streams are sequences of the ``*Event`` classes below. Blocks are numbered by
``index`` in order of appearance; a decoder may interleave events of several open
blocks (OpenAI parallel tool calls do), and ``translate.stream.Sequencer`` puts them
in strict start/deltas/stop order for encoders that need one block at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "MEDIA",
    "REFUSAL",
    "Block",
    "BlockStart",
    "BlockStop",
    "CitationDelta",
    "Error",
    "Event",
    "File",
    "Image",
    "Message",
    "Request",
    "Response",
    "ServerTool",
    "SignatureDelta",
    "StopReason",
    "StreamEnd",
    "StreamStart",
    "Text",
    "TextDelta",
    "Thinking",
    "ThinkingDelta",
    "Tool",
    "ToolArgsDelta",
    "ToolCall",
    "ToolKind",
    "ToolResult",
    "Usage",
    "UsageEvent",
    "count_of",
    "is_refusal",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]

# Why a model stopped. Adapters map their own values to these and keep the raw
# value in ``Response.extras["stop_raw"]`` when it has no exact equivalent.
StopReason = Literal[
    "end_turn",
    "max_tokens",
    "tool_use",
    "stop_sequence",
    "content_filter",
    "refusal",
    "pause_turn",
    "error",
]

Extras = dict[str, Any]

# ``BlockStart.raw`` of a text block that is the model's refusal (Chat ``delta.refusal``, a
# Responses ``refusal`` part); in a whole answer the Text carries ``extras["_refusal"]``.
# Shared: never mutated.
REFUSAL: dict[str, Any] = {"refusal": True}


def is_refusal(raw: dict[str, Any] | None) -> bool:
    """Whether a text ``BlockStart.raw`` marks the model's refusal (:data:`REFUSAL`)."""
    return raw is not None and raw.get("refusal") is True


# A client tool: a JSON-arguments function, or a custom (free-form input) tool.
ToolKind = Literal["function", "custom"]


# --------------------------------------------------------------------------- blocks
#
# The parsers build these positionally where they run once per request or answer: keyword
# arguments cost a dataclass __init__ about 0.15 us more.


@dataclass(slots=True)
class Text:
    """Plain text. ``citations`` keeps Claude/Responses annotations as given."""

    text: str
    citations: list[Any] | None = None
    extras: Extras | None = None


@dataclass(slots=True)
class Image:
    """An image given inline (base64 ``data`` + ``media_type``), by ``url`` or by ``file_id``."""

    data: str | None = None
    media_type: str | None = None
    url: str | None = None
    file_id: str | None = None
    detail: str | None = None
    extras: Extras | None = None


@dataclass(slots=True)
class File:
    """A document (PDF, text...) given inline, by url or by file id."""

    data: str | None = None
    media_type: str | None = None
    url: str | None = None
    file_id: str | None = None
    filename: str | None = None
    extras: Extras | None = None


@dataclass(slots=True)
class Thinking:
    """Model reasoning: Claude thinking / redacted thinking, Gemini thought parts,
    Responses reasoning items, OpenAI ``reasoning_content``.

    ``signature`` is the family-bound artifact (Claude ``signature``, Gemini
    ``thoughtSignature``, Responses ``encrypted_content``); ``redacted`` marks Claude
    ``redacted_thinking`` whose opaque payload is in ``signature``. ``summary`` keeps
    Responses summary parts when the text came from them; ``id`` the Responses item id.
    ``compat``: an ``is-compat`` upstream takes this block as it is, unsigned or with
    another family's opaque ``signature`` (``translate.compat``): builders keep it.
    ``anchor``: where a Gemini ``signature`` sat in the answer when not on this thought
    (CPA's carrier directions): ``"next:text"`` / ``"next:function"`` / ``"next:any"``
    the part after, ``"previous:text"`` / ``"previous:function"`` the part before;
    ``None`` this thought's own (or a part of its own when the text is empty).
    """

    text: str = ""
    signature: str | None = None
    family: str | None = None
    redacted: bool = False
    summary: list[str] | None = None
    id: str | None = None
    extras: Extras | None = None
    compat: bool = False
    anchor: str | None = None


@dataclass(slots=True)
class ToolCall:
    """A call the model makes. ``kind`` is ``function`` or ``custom`` (Responses custom
    tools, whose ``arguments`` is free text); ``namespace`` is the Responses namespace the
    tool came from. ``signature``/``family`` carry a Gemini thoughtSignature on the call.
    """

    id: str
    name: str
    arguments: str = ""
    kind: ToolKind = "function"
    namespace: str | None = None
    signature: str | None = None
    family: str | None = None
    extras: Extras | None = None


@dataclass(slots=True)
class ToolResult:
    """The result of a tool call, sent back by the client."""

    call_id: str
    content: list[Block] = field(default_factory=list)
    name: str | None = None
    is_error: bool = False
    extras: Extras | None = None


@dataclass(slots=True)
class ServerTool:
    """A provider-run tool block (Claude ``server_tool_use`` / ``web_search_tool_result``,
    Responses ``web_search_call``...). Kept whole in ``raw`` for its own family."""

    family: str
    raw: dict[str, Any]


Block = Text | Image | File | Thinking | ToolCall | ToolResult | ServerTool
# the media blocks, as one tuple for ``isinstance`` (a ``Image | File`` union would be
# built at every test; the builders test every block of every message)
MEDIA = (Image, File)


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Block] = field(default_factory=list)
    name: str | None = None
    extras: Extras | None = None


@dataclass(slots=True)
class Tool:
    """A tool the model may call.

    ``kind``: ``function``; ``custom`` (Responses free-form); ``builtin`` for provider
    tools (web_search, code_execution...) kept whole in ``extras["raw"]`` for their own
    family. ``namespace`` is set on tools flattened out of a Responses ``namespace``.
    """

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    kind: Literal["function", "custom", "builtin"] = "function"
    namespace: str | None = None
    strict: bool | None = None
    extras: Extras | None = None


# past any real count (2**53): a count beyond is none, so that sums of counts stay within
# the int64 every JSON writer (orjson) and the ledger take
_COUNT_LIMIT = 1 << 53


def count_of(value: Any) -> int:
    """A token count an upstream wrote: an int as it is, else the number a float or a
    string spells (``"12"``: some gateways re-encode numbers as strings; CPA's gjson
    ``Int`` reads them), else 0 (a number past any real count too: ``1e30``, which
    orjson reads as a float, would be an int no JSON writer takes). Callers test
    ``type(value) is int`` first."""
    if type(value) is int:
        return value
    if type(value) is float:
        number = value
    elif type(value) is str:
        text = value.strip()
        try:
            count = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return 0
        else:
            return count if -_COUNT_LIMIT < count < _COUNT_LIMIT else 0
    else:
        return 0
    return int(number) if -_COUNT_LIMIT < number < _COUNT_LIMIT else 0  # (nan and inf: 0)


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int | None = None  # None -> input + output
    # provider-run web searches the answer made (Claude's ``server_tool_use`` usage);
    # last, so that positional constructions stay valid
    web_search_requests: int = 0

    @property
    def total(self) -> int:
        return self.total_tokens if self.total_tokens is not None else self.input_tokens + self.output_tokens


@dataclass(slots=True)
class Request:
    """A generation request.

    ``tool_choice``: ``"auto" | "none" | "required"`` or ``{"name": ...}``.
    ``reasoning``: the source's reasoning settings, normalised: keys ``effort``
    (none/minimal/low/medium/high/xhigh/max), ``budget`` (int, -1 dynamic, 0 off),
    ``mode`` (``adaptive``/``enabled``/``disabled``), ``summary``, ``include_thoughts``.
    ``response_format``: ``{"type": "json_schema", "schema": {...}, "name", "strict"}`` or
    ``{"type": "json_object"}``.
    """

    model: str
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    n: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    reasoning: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = None  # OpenAI ``user`` / Claude ``metadata.user_id``
    metadata: dict[str, Any] | None = None
    source: str = ""
    extras: Extras = field(default_factory=dict)

    def renamed(self, model: str) -> Request:
        """A shallow copy under another model name: ``dataclasses.replace(self,
        model=model)`` without its walk over the fields (once per translated request)."""
        return Request(
            model,
            self.messages,
            self.tools,
            self.tool_choice,
            self.parallel_tool_calls,
            self.stream,
            self.max_tokens,
            self.temperature,
            self.top_p,
            self.top_k,
            self.stop,
            self.seed,
            self.n,
            self.presence_penalty,
            self.frequency_penalty,
            self.reasoning,
            self.response_format,
            self.user,
            self.metadata,
            self.source,
            self.extras,
        )


@dataclass(slots=True)
class Response:
    """A whole (non-stream) response: one assistant turn."""

    id: str
    model: str
    content: list[Block] = field(default_factory=list)
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    created: int = 0
    source: str = ""
    extras: Extras = field(default_factory=dict)


# --------------------------------------------------------------------------- stream events


@dataclass(slots=True)
class StreamStart:
    id: str
    model: str
    created: int = 0
    usage: Usage | None = None  # Claude sends input usage up front
    extras: Extras | None = None


@dataclass(slots=True)
class BlockStart:
    """A content block opens. For ``tool_call`` blocks ``id``/``name`` may be empty when
    the upstream sends them late; a later ``BlockStart`` for the same index fills them."""

    index: int
    kind: Literal["text", "thinking", "redacted_thinking", "tool_call", "server_tool"]
    id: str | None = None
    name: str | None = None
    tool_kind: ToolKind = "function"
    namespace: str | None = None
    signature: str | None = None  # Gemini call signature, or redacted payload
    family: str | None = None
    # server_tool: the block whole (a Claude ``server_tool_use`` with its ``input``:
    # Claude's encoder streams the input as a delta); text: ``{"citations": [...]}``, the
    # Claude citations of the text to come (Claude's encoder sends each as a
    # ``citations_delta``; other encoders ignore them)
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True)
class CitationDelta:
    """One citation of the open text block ``index`` (Claude's ``citations_delta``), the
    ``citation`` object as the upstream gave it; an encoder with no place for it ignores it."""

    index: int
    citation: dict[str, Any]


@dataclass(slots=True)
class ThinkingDelta:
    index: int
    text: str


@dataclass(slots=True)
class SignatureDelta:
    """``anchor``: as :attr:`Thinking.anchor`."""

    index: int
    signature: str
    family: str
    anchor: str | None = None


@dataclass(slots=True)
class ToolArgsDelta:
    index: int
    delta: str


@dataclass(slots=True)
class BlockStop:
    """``cut``: the block ends because the answer was cut short (a length or content
    limit), so what it holds may be partial (a Responses item is then ``incomplete``)."""

    index: int
    cut: bool = False


@dataclass(slots=True)
class UsageEvent:
    """Usage so far; later events replace earlier ones field by field where non-zero."""

    usage: Usage


@dataclass(slots=True)
class StreamEnd:
    stop_reason: StopReason | None
    usage: Usage | None = None
    stop_sequence: str | None = None
    extras: Extras | None = None


@dataclass(slots=True)
class Error:
    """An in-band error: the stream cannot go on. ``status`` picks the error type;
    ``retry_after`` (seconds) is when the upstream said the account may ask again (a
    Codex usage limit's reset)."""

    message: str
    status: int = 500
    type: str | None = None
    code: str | None = None
    retry_after: float | None = None


Event = (
    StreamStart
    | BlockStart
    | TextDelta
    | CitationDelta
    | ThinkingDelta
    | SignatureDelta
    | ToolArgsDelta
    | BlockStop
    | UsageEvent
    | StreamEnd
    | Error
)
