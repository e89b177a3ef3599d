"""A subprocess plugin written with the standard library only (no cliproxy import).

It speaks docs/plugin-protocol.md: one JSON frame a line on stdin/stdout. Methods:

* plugin.register          -> a registration with the executor capability
* executor.execute         -> echoes base64 ``Payload`` back, with its length
* test.fail                -> an error envelope with ``http_status`` 429
* test.collect             -> held until ``n`` collects arrived, then answered in reverse
* test.ask_host            -> calls the host (``host_method``) and returns its answer
* test.slow                -> answers after ``seconds`` (a cancel frame drops the answer
                              unless ``ignore_cancel``)
* test.cancelled           -> the call ids the host cancelled so far
* test.log                 -> writes a log frame and a stderr line, then answers
* test.garbage             -> writes a line that is not JSON
* test.exit                -> exits with ``code`` without answering
* test.hang                -> never answers
* test.bad_envelope        -> a result frame whose envelope is not an object
* test.future_frame        -> a frame of an unknown type, then an answer

``--stubborn`` makes it ignore the shutdown frame, stdin EOF and SIGTERM.
"""

import base64
import json
import signal
import sys
import threading
import time

STUBBORN = "--stubborn" in sys.argv
write_lock = threading.Lock()
collected = []
waiting_host = {}  # host call id -> our call id
timers = {}
cancelled = []
host_ids = iter(range(1, 1 << 30))


def send(frame):
    line = json.dumps(frame, separators=(",", ":")) + "\n"
    with write_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def ok(call_id, result):
    send({"id": call_id, "type": "result", "envelope": {"ok": True, "result": result}})


def fail(call_id, message, status):
    err = {"code": "upstream", "message": message, "retryable": False, "http_status": status}
    send({"id": call_id, "type": "result", "envelope": {"ok": False, "error": err}})


def register(call_id, params):
    ok(
        call_id,
        {
            "schema_version": params.get("schema_version", 3),
            "metadata": {"Name": "echo", "Version": "1.0.0"},
            "capabilities": {"executor": True},
        },
    )


def execute(call_id, params):
    payload = base64.b64decode(params.get("Payload", ""))
    ok(call_id, {"Payload": base64.b64encode(payload).decode(), "Length": len(payload)})


def collect(call_id, params):
    collected.append((call_id, params["value"]))
    if len(collected) == params["n"]:
        for cid, value in reversed(collected):
            ok(cid, {"value": value})
        collected.clear()


def ask_host(call_id, params):
    host_id = f"p{next(host_ids)}"
    waiting_host[host_id] = call_id
    send(
        {
            "id": host_id,
            "type": "host_call",
            "method": params["host_method"],
            "params": params.get("host_params", {}),
        }
    )


def host_result(frame):
    call_id = waiting_host.pop(frame["id"])
    ok(call_id, {"host_envelope": frame["envelope"]})


def slow(call_id, params):
    def answer():
        timers.pop(call_id, None)
        ok(call_id, {"slept": params["seconds"]})

    timer = threading.Timer(params["seconds"], answer)
    timer.daemon = True
    if not params.get("ignore_cancel"):
        timers[call_id] = timer
    timer.start()


def cancel(frame):
    cancelled.append(frame["id"])
    timer = timers.pop(frame["id"], None)
    if timer is not None:
        timer.cancel()


def log_and_answer(call_id, params):
    send({"type": "log", "level": "warn", "message": params["message"]})
    sys.stderr.write(params["stderr"] + "\n")
    sys.stderr.flush()
    ok(call_id, {})


def garbage(call_id, params):
    with write_lock:
        sys.stdout.write("this is not json\n")
        sys.stdout.flush()


def exit_now(call_id, params):
    sys.stdout.flush()
    sys.exit(params.get("code", 3))


METHODS = {
    "plugin.register": register,
    "executor.execute": execute,
    "test.fail": lambda cid, p: fail(cid, p.get("message", "quota exhausted"), p.get("status", 429)),
    "test.collect": collect,
    "test.ask_host": ask_host,
    "test.slow": slow,
    "test.cancelled": lambda cid, p: ok(cid, {"ids": cancelled}),
    "test.log": log_and_answer,
    "test.garbage": garbage,
    "test.exit": exit_now,
    "test.hang": lambda cid, p: None,
    "test.bad_envelope": lambda cid, p: send({"id": cid, "type": "result", "envelope": "nope"}),
    "test.future_frame": lambda cid, p: (send({"type": "telemetry", "x": 1}), ok(cid, {"after": True})),
}


def handle(frame):
    kind = frame.get("type")
    if kind == "call":
        handler = METHODS.get(frame["method"])
        if handler is None:
            fail(frame["id"], "unknown method " + frame["method"], 0)
        else:
            handler(frame["id"], frame.get("params") or {})
    elif kind == "host_result":
        host_result(frame)
    elif kind == "cancel":
        cancel(frame)
    elif kind == "shutdown" and not STUBBORN:
        sys.exit(0)


def main():
    if STUBBORN:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for line in sys.stdin:
        if line.strip():
            handle(json.loads(line))
    while STUBBORN:
        time.sleep(1)


if __name__ == "__main__":
    main()
