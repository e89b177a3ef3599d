/* Test plugin: a native executor whose stream is fed from a thread it owns
 * (tests/plugins/test_cabi_stream_cancel.py).
 *
 * Capabilities: model_router ("c-stream" -> self) + executor (static, openai in/out).
 * - executor.execute_stream: sleeps DELAY_MS inside the call (the host waits for it),
 *   then starts a detached thread and returns; the thread emits up to 40 chunks on the
 *   stream id it was given, 5 ms apart, and stops at the first emit the host refuses.
 * - test.seen: {"emitted": chunks the host took, "refused": emits it refused,
 *   "finished": threads that stopped}.
 * - test.stale_model_stream: host.model.execute_stream for compat-model with the
 *   host_callback_id the request names (a scope that is over), then one
 *   host.model.stream_read; answers {"open": <host answer>, "read": <host answer>}. */
#include "cliproxy_abi.h"

#include <pthread.h>
#include <unistd.h>

#define DELAY_MS 400

static const host_api_t *host = NULL;
static int emitted = 0, refused = 0, finished = 0;

/* base64 of: data: {"choices":[]}\n\n */
static const char CHUNK[] = "ZGF0YTogeyJjaG9pY2VzIjpbXX0KCg==";

static void *emit_all(void *arg) {
    char *stream = arg;
    char json[256];
    int rc;
    for (int i = 0; i < 40; i++) {
        snprintf(json, sizeof json, "{\"stream_id\":\"%s\",\"payload\":\"%s\"}", stream, CHUNK);
        char *answer = host_ask(host, host->host_ctx, "host.stream.emit", json, &rc);
        int ok = rc == 0 && strstr(answer, "\"ok\":true") != NULL;
        free(answer);
        if (!ok) {
            __atomic_add_fetch(&refused, 1, __ATOMIC_SEQ_CST);
            break;
        }
        __atomic_add_fetch(&emitted, 1, __ATOMIC_SEQ_CST);
        usleep(5000);
    }
    snprintf(json, sizeof json, "{\"stream_id\":\"%s\"}", stream);
    free(host_ask(host, host->host_ctx, "host.stream.close", json, &rc));
    free(stream);
    __atomic_add_fetch(&finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int execute_stream(const char *req, buffer_t *resp) {
    char *stream = malloc(64);
    json_str(req, "stream_id", stream, 64);
    usleep(DELAY_MS * 1000);
    pthread_t thread;
    pthread_create(&thread, NULL, emit_all, stream);
    pthread_detach(thread);
    return answerf(resp, "{\"ok\":true,\"result\":{}}");
}

static int stale_model_stream(const char *req, buffer_t *resp) {
    static const char BODY[] =
        "eyJtb2RlbCI6ImNvbXBhdC1tb2RlbCIsIm1lc3NhZ2VzIjpbeyJyb2xlIjoidXNlciIsImNvbnRlbnQiOiJoaSJ9XSwic3RyZWFtIjp0cnVlfQ==";
    char scope[64], json[512], stream[64];
    int rc;
    json_str(req, "scope", scope, sizeof scope);
    snprintf(json, sizeof json,
             "{\"entry_protocol\":\"openai\",\"model\":\"compat-model\",\"stream\":true,"
             "\"body\":\"%s\",\"host_callback_id\":\"%s\"}", BODY, scope);
    char *opened = host_ask(host, host->host_ctx, "host.model.execute_stream", json, &rc);
    json_str(opened, "stream_id", stream, sizeof stream);
    snprintf(json, sizeof json, "{\"stream_id\":\"%s\"}", stream);
    char *read = host_ask(host, host->host_ctx, "host.model.stream_read", json, &rc);
    answerf(resp, "{\"ok\":true,\"result\":{\"open\":%s,\"read\":%s}}", opened, read);
    free(opened);
    free(read);
    return 0;
}

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    resp->ptr = NULL;
    resp->len = 0;
    char *req = request_text(request, request_len);
    int rc;
    if (strcmp(method, "plugin.register") == 0 || strcmp(method, "plugin.reconfigure") == 0) {
        rc = answerf(resp,
            "{\"ok\":true,\"result\":{\"schema_version\":3,"
            "\"metadata\":{\"Name\":\"c-stream\",\"Version\":\"1.0.0\",\"Author\":\"tests\","
            "\"GitHubRepository\":\"https://example.com/c-stream\"},"
            "\"capabilities\":{\"model_router\":true,\"executor\":true,\"executor_model_scope\":\"static\","
            "\"executor_input_formats\":[\"openai\"],\"executor_output_formats\":[\"openai\"]}}}");
    } else if (strcmp(method, "executor.identifier") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"identifier\":\"c-stream\"}}");
    } else if (strcmp(method, "model.route") == 0) {
        char model[128];
        json_str(req, "RequestedModel", model, sizeof model);
        rc = strcmp(model, "c-stream") == 0
                 ? answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":true,\"TargetKind\":\"self\"}}")
                 : answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":false}}");
    } else if (strcmp(method, "executor.execute_stream") == 0) {
        rc = execute_stream(req, resp);
    } else if (strcmp(method, "test.stale_model_stream") == 0) {
        rc = stale_model_stream(req, resp);
    } else if (strcmp(method, "test.seen") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"emitted\":%d,\"refused\":%d,\"finished\":%d}}",
                     __atomic_load_n(&emitted, __ATOMIC_SEQ_CST), __atomic_load_n(&refused, __ATOMIC_SEQ_CST),
                     __atomic_load_n(&finished, __ATOMIC_SEQ_CST));
    } else {
        rc = answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"unknown_method\",\"message\":\"unknown method\"}}");
    }
    free(req);
    return rc;
}

static void plugin_free(void *ptr, size_t len) {
    (void)len;
    free(ptr);
}

EXPORT int cliproxy_plugin_init(const host_api_t *h, plugin_api_t *plugin) {
    host = h;
    plugin->abi_version = 1;
    plugin->call = plugin_call;
    plugin->free_buffer = plugin_free;
    plugin->shutdown = NULL;
    return 0;
}
