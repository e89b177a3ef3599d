"""Property: any valid Gemini request survives parse -> build unchanged."""

from __future__ import annotations

import copy

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cliproxy.translate.gemini import ADAPTER

NAMES = ["read_file", "shell", "search.web", "a:b-c"]
texts = st.text(max_size=12)
sigs = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/=", min_size=4, max_size=16)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(texts, json_values, max_size=4)
mimes = st.sampled_from(["image/png", "image/jpeg", "application/pdf", "audio/wav", "text/plain"])


@st.composite
def user_part(draw):
    kind = draw(st.sampled_from(["text", "inline", "file", "text_extra"]))
    if kind == "text":
        return {"text": draw(texts)}
    if kind == "text_extra":
        return {"text": draw(texts), "thought": False, "partMetadata": draw(objects)}
    if kind == "inline":
        return {"inlineData": {"mimeType": draw(mimes), "data": draw(sigs)}}
    part = {"fileData": {"mimeType": draw(mimes), "fileUri": "gs://bucket/" + draw(sigs)}}
    if draw(st.booleans()):
        part["videoMetadata"] = {"startOffset": "1s"}
    return part


@st.composite
def model_turn(draw, counter):
    parts, calls = [], []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "thought", "signed_text", "call", "code"]))
        if kind == "text":
            parts.append({"text": draw(texts)})
        elif kind == "thought":
            part = {"text": draw(texts), "thought": True}
            if draw(st.booleans()):
                part["thoughtSignature"] = draw(sigs)
            parts.append(part)
        elif kind == "signed_text":
            parts.append({"text": draw(texts), "thoughtSignature": draw(sigs)})
        elif kind == "code":
            parts.append({"executableCode": {"language": "PYTHON", "code": draw(texts)}})
        else:
            fc = {"name": draw(st.sampled_from(NAMES))}
            if draw(st.booleans()):
                fc["args"] = draw(objects)
            if draw(st.booleans()):
                counter[0] += 1
                fc["id"] = f"call-{counter[0]}"
            part = {"functionCall": fc}
            if draw(st.booleans()):
                part["thoughtSignature"] = draw(sigs)
            parts.append(part)
            calls.append(fc)
    return {"role": "model", "parts": parts}, calls


@st.composite
def result_part(draw, call):
    fr = {"name": call["name"]}
    if "id" in call:
        fr["id"] = call["id"]
    choice = draw(st.sampled_from(["result", "error", "object", "none"]))
    if choice == "result":
        fr["response"] = {"result": draw(texts | json_values)}
    elif choice == "error":
        fr["response"] = {"error": draw(texts)}
    elif choice == "object":
        fr["response"] = draw(objects)
    return {"functionResponse": fr}


@st.composite
def contents(draw):
    out, counter, pending = [], [0], []
    for _ in range(draw(st.integers(0, 4))):
        parts = [draw(result_part(c)) for c in pending] + draw(st.lists(user_part(), max_size=3))
        role = draw(st.sampled_from(["user", "user", "function", None]))
        out.append({"parts": parts} if role is None else {"role": role, "parts": parts})
        turn, pending = draw(model_turn(counter))
        out.append(turn)
    return out


@st.composite
def tools(draw):
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        entry = {}
        if draw(st.booleans()):
            decls = []
            for name in draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True)):
                decl = {"name": name}
                if draw(st.booleans()):
                    decl["description"] = draw(texts)
                key = draw(st.sampled_from(["parameters", "parametersJsonSchema", None]))
                if key:
                    decl[key] = {"type": "object", "properties": draw(objects)}
                if draw(st.booleans()):
                    decl["response"] = {"type": "STRING"}
                decls.append(decl)
            entry["functionDeclarations"] = decls
        for key in draw(
            st.lists(
                st.sampled_from(["googleSearch", "codeExecution", "urlContext"]), max_size=2, unique=True
            )
        ):
            entry[key] = {}
        if entry:
            entries.append(entry)
    return entries


@st.composite
def generation_config(draw):
    gen = {}
    for key, strat in [
        ("temperature", st.floats(0, 2)),
        ("topP", st.floats(0, 1)),
        ("topK", st.integers(1, 100)),
        ("maxOutputTokens", st.integers(1, 10**6)),
        ("candidateCount", st.integers(1, 4)),
        ("seed", st.integers(0, 2**31)),
        ("presencePenalty", st.floats(-2, 2)),
        ("frequencyPenalty", st.floats(-2, 2)),
        ("stopSequences", st.lists(texts, max_size=3)),
        ("responseModalities", st.just(["TEXT"])),
    ]:
        if draw(st.booleans()):
            gen[key] = draw(strat)
    fmt = draw(st.sampled_from(["none", "json", "json_schema", "schema", "text"]))
    if fmt != "none":
        gen["responseMimeType"] = "text/plain" if fmt == "text" else "application/json"
    if fmt == "json_schema":
        gen["responseJsonSchema"] = {"type": "object"}
    elif fmt == "schema":
        gen["responseSchema"] = {"type": "OBJECT"}
    if draw(st.booleans()):
        tc = {}
        if draw(st.booleans()):
            tc["includeThoughts"] = draw(st.booleans())
        if draw(st.booleans()):
            tc["thinkingBudget"] = draw(st.integers(-1, 32768))
        if draw(st.booleans()):
            tc["thinkingLevel"] = draw(st.sampled_from(["LOW", "HIGH", "MINIMAL", "medium"]))
        gen["thinkingConfig"] = tc
    return gen


@st.composite
def requests(draw):
    body = {"contents": draw(contents())}
    if draw(st.booleans()):
        si = {"parts": [{"text": draw(texts)}]}
        if draw(st.booleans()):
            si["role"] = "user"
        body["systemInstruction"] = si
    if draw(st.booleans()):
        body["tools"] = draw(tools())
    if draw(st.booleans()):
        fcc = {"mode": draw(st.sampled_from(["AUTO", "ANY", "NONE", "VALIDATED"]))}
        if draw(st.booleans()):
            fcc["allowedFunctionNames"] = draw(st.lists(st.sampled_from(NAMES), max_size=2))
        body["toolConfig"] = {"functionCallingConfig": fcc}
    if draw(st.booleans()):
        body["generationConfig"] = draw(generation_config())
    if draw(st.booleans()):
        body["safetySettings"] = [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    if draw(st.booleans()):
        body["cachedContent"] = "cachedContents/" + draw(sigs)
    if draw(st.booleans()):
        body["labels"] = {"k": draw(texts)}
    return body


@settings(max_examples=300, deadline=None)
@given(requests())
@example({"contents": [], "generationConfig": {}})
@example({"contents": [{"parts": []}], "toolConfig": {}, "tools": []})
def test_gemini_request_round_trip(body):
    original = copy.deepcopy(body)
    req = ADAPTER.parse_request(body)
    assert body == original
    assert ADAPTER.build_request(req) == original
