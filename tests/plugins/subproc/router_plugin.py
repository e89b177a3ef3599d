"""A subprocess plugin (standard library only) for tests/plugins/test_flow_subprocess.py.

It speaks docs/plugin-protocol.md and serves every call on its own thread, so it can wait
for host callbacks (``host.model.execute``, ``host.stream.emit``) while the reader keeps
reading stdin. ``--mode`` chooses what it registers:

main       model_router + executor (static, openai in/out) + request_interceptor
           * routes models starting with "sp-" (and "slow-model") to itself
           * executor.execute: a fixed chat completion; "sp-nested" re-enters the host with
             host.model.execute("compat-model"); "sp-slow" and "slow-model" sleep 30 s
           * executor.execute_stream: async mode (empty chunks), then host.stream.emit frames
             and host.stream.close; "sp-nested" forwards a host.model.execute_stream of
             "compat-model"; "sp-stall" emits one frame and then stalls
           * request.intercept_before: terminates requests whose body contains "forbidden"
garble     model_router only, misbehaving by model name (see ``garble_route``)
scheduler  scheduler only: picks the candidate named by config ``pick`` ("first"/"last"),
           denies models containing "deny", delegates models containing "rotate"

``test.seen`` answers what it served so far.
"""

import argparse
import base64
import itertools
import json
import sys
import threading
import time

ARGS = argparse.ArgumentParser()
ARGS.add_argument("--mode", default="main")
ARGS.add_argument("--name", default="sp")
OPTS = ARGS.parse_args()

write_lock = threading.Lock()
seen_lock = threading.Lock()
seen = {"routes": [], "executes": [], "streams": [], "intercepts": 0, "picks": [], "config": None}
waiters = {}  # host call id -> [event, envelope]
host_ids = itertools.count(1)
META = {
    "Name": OPTS.name,
    "Version": "1.0.0",
    "Author": "tests",
    "GitHubRepository": "https://example.com/sp",
}


def send(frame):
    line = json.dumps(frame, separators=(",", ":")) + "\n"
    with write_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def ok(call_id, result):
    send({"id": call_id, "type": "result", "envelope": {"ok": True, "result": result}})


def fail(call_id, message, status=0, code="plugin_error"):
    send(
        {
            "id": call_id,
            "type": "result",
            "envelope": {"ok": False, "error": {"code": code, "message": message, "http_status": status}},
        }
    )


def host(method, params):
    """Call the host and wait for its envelope (the reader thread delivers it)."""
    host_id = f"h{next(host_ids)}"
    slot = [threading.Event(), None]
    waiters[host_id] = slot
    send({"id": host_id, "type": "host_call", "method": method, "params": params})
    slot[0].wait()
    return slot[1]


def b64(data):
    return base64.b64encode(data).decode()


def record(key, value):
    with seen_lock:
        if isinstance(seen[key], list):
            seen[key].append(value)
        else:
            seen[key] = value


# ------------------------------------------------------------------ registration

CAPS = {
    "main": {
        "model_router": True,
        "executor": True,
        "executor_model_scope": "static",
        "executor_input_formats": ["openai"],
        "executor_output_formats": ["openai"],
        "request_interceptor": True,
    },
    "garble": {"model_router": True},
    "scheduler": {"scheduler": True},
}


def register(call_id, params):
    config = base64.b64decode(params.get("config_yaml") or "").decode() or "{}"
    record("config", json.loads(config))  # the host sends JSON, which is YAML
    ok(call_id, {"schema_version": 3, "metadata": META, "capabilities": CAPS[OPTS.mode]})


# ------------------------------------------------------------------ router


def route(call_id, params):
    model = params.get("RequestedModel", "")
    record("routes", model)
    if OPTS.mode == "garble":
        return garble_route(call_id, model)
    if model.startswith("sp-") or model == "slow-model":
        return ok(call_id, {"Handled": True, "TargetKind": "self", "Reason": "mine"})
    return ok(call_id, {"Handled": False})


def garble_route(call_id, model):
    if model == "fall-error":
        return fail(call_id, "router raised", 500)
    if model == "fall-invalid":
        return ok(call_id, {"Handled": True, "TargetKind": "both", "Target": "claude"})
    if model == "fall-nokind":
        return ok(call_id, {"Handled": True, "TargetKind": "executor"})
    if model == "fall-list":
        return ok(call_id, [1, 2, 3])
    if model == "fall-rc":  # garbage on stdout: a protocol error, the plugin is killed
        with write_lock:
            sys.stdout.write("}{ garbage\n")
            sys.stdout.flush()
        return None
    return ok(call_id, {"Handled": False})


# ------------------------------------------------------------------ executor


def chat(model, text):
    return {
        "id": "chatcmpl-sp",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def frame(model, delta, finish=None):
    chunk = {
        "id": "chatcmpl-sp",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return ("data: " + json.dumps(chunk) + "\n\n").encode()


def nested_request(scope, stream):
    body = {"model": "compat-model", "messages": [{"role": "user", "content": "inner"}]}
    return {
        "entry_protocol": "openai",
        "exit_protocol": "openai",
        "model": "compat-model",
        "stream": stream,
        "body": b64(json.dumps(body).encode()),
        "host_callback_id": scope,
    }


def execute(call_id, params):
    model = params.get("Model", "")
    record("executes", model)
    if model in ("sp-slow", "slow-model"):
        time.sleep(30)
    if model == "sp-nested":
        env = host("host.model.execute", nested_request(params.get("host_callback_id"), False))
        if not env.get("ok"):
            return fail(call_id, "nested: " + env["error"]["message"], 502)
        inner = json.loads(base64.b64decode(env["result"]["body"]))
        text = "SP-NESTED[" + inner["choices"][0]["message"]["content"] + "]"
    else:
        text = "SUBPROC-ANSWER"
    ok(call_id, {"Payload": b64(json.dumps(chat(model, text)).encode())})


def execute_stream(call_id, params):
    model, stream_id = params.get("Model", ""), params["stream_id"]
    record("streams", model)
    ok(call_id, {"headers": {"Content-Type": ["text/event-stream"]}, "chunks": []})  # async mode

    def emit(payload):
        return host("host.stream.emit", {"stream_id": stream_id, "payload": b64(payload)})

    if model == "sp-nested":
        return forward_nested(params, stream_id, emit)
    emit(frame(model, {"role": "assistant", "content": ""}))
    if model == "sp-stall":
        emit(frame(model, {"content": "STALL"}))
        time.sleep(30)
    for word in ("SUB", "PROC", "-STREAM"):
        emit(frame(model, {"content": word}))
    emit(frame(model, {}, "stop"))
    emit(b"data: [DONE]\n\n")
    host("host.stream.close", {"stream_id": stream_id})
    return None


def forward_nested(params, stream_id, emit):
    env = host("host.model.execute_stream", nested_request(params.get("host_callback_id"), True))
    if not env.get("ok"):
        host("host.stream.close", {"stream_id": stream_id, "error": "nested: " + env["error"]["message"]})
        return
    nested = env["result"]["stream_id"]
    while True:
        read = host("host.model.stream_read", {"stream_id": nested})["result"]
        if read.get("payload"):
            emit(base64.b64decode(read["payload"]))
        if read.get("done"):
            break
    host("host.stream.close", {"stream_id": stream_id, "error": read.get("error", "")})


# ------------------------------------------------------------------ interceptor


def intercept_before(call_id, params):
    with seen_lock:
        seen["intercepts"] += 1
    body = base64.b64decode(params.get("Body") or "")
    if b"forbidden" not in body:
        return ok(call_id, {})
    error = {"error": {"message": "forbidden by the subprocess plugin", "type": "plugin_rejected"}}
    return ok(
        call_id,
        {
            "Terminate": True,
            "StatusCode": 403,
            "ResponseBody": b64(json.dumps(error).encode()),
            "ResponseHeaders": {"Content-Type": ["application/json"], "X-Rejected-By": [OPTS.name]},
        },
    )


# ------------------------------------------------------------------ scheduler


def pick(call_id, params):
    ids = sorted(c["ID"] for c in params.get("Candidates") or [])
    model = params.get("Model", "")
    record("picks", {"model": model, "candidates": ids, "providers": params.get("Providers")})
    if "deny" in model:
        return fail(call_id, "scheduler says no", 451, "scheduler_denied")
    if "rotate" in model:
        return ok(call_id, {"Handled": True, "DelegateBuiltin": "round-robin"})
    which = (seen["config"] or {}).get("pick", "last")
    return ok(call_id, {"Handled": True, "AuthID": ids[0] if which == "first" else ids[-1]})


def seen_now(call_id, params):
    with seen_lock:
        ok(call_id, json.loads(json.dumps(seen)))


METHODS = {
    "plugin.register": register,
    "plugin.reconfigure": register,
    "executor.identifier": lambda cid, p: ok(cid, {"identifier": OPTS.name}),
    "model.route": route,
    "executor.execute": execute,
    "executor.execute_stream": execute_stream,
    "request.intercept_before": intercept_before,
    "request.intercept_after": lambda cid, p: ok(cid, {}),
    "scheduler.pick": pick,
    "test.seen": seen_now,
}


def serve(frame_):
    handler = METHODS.get(frame_["method"])
    try:
        if handler is None:
            fail(frame_["id"], "unknown method " + frame_["method"], 501)
        else:
            handler(frame_["id"], frame_.get("params") or {})
    except Exception as exc:  # report, do not die
        sys.stderr.write(f"{frame_['method']} failed: {exc!r}\n")
        sys.stderr.flush()
        fail(frame_["id"], repr(exc), 500)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        frame_ = json.loads(line)
        kind = frame_.get("type")
        if kind == "call":
            threading.Thread(target=serve, args=(frame_,), daemon=True).start()
        elif kind == "host_result":
            slot = waiters.pop(frame_["id"], None)
            if slot is not None:
                slot[1] = frame_["envelope"]
                slot[0].set()
        elif kind == "shutdown":
            return


if __name__ == "__main__":
    main()
