/* Test plugin for the end-to-end flow (tests/plugins/test_flow_native.py).
 *
 * Capabilities: model_router + executor (scope static, openai in/out) + request_interceptor.
 * - model.route: "c-echo" -> self; "c-provider" and "c-shared" -> provider claude
 *   (model claude-opus-4-6); anything else unhandled.
 * - executor.execute: re-enters the host synchronously with host.model.execute for
 *   "compat-model" and answers a chat completion "C-ECHO[<inner text>]".
 * - request.intercept_before: adds the header X-C-Plugin: native.
 * - test.seen: how many calls of each kind it served. */
#include "cliproxy_abi.h"

static const host_api_t *host = NULL;
static int routes = 0, executes = 0, intercepts = 0;

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const char *src, size_t len) {
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)src[i] << 16;
        if (i + 1 < len) v |= (uint32_t)(unsigned char)src[i + 1] << 8;
        if (i + 2 < len) v |= (uint32_t)(unsigned char)src[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static char *b64_decode(const char *src) {
    size_t len = strlen(src);
    char *out = malloc(len * 3 / 4 + 1);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && src[i] != '='; i++) {
        const char *at = strchr(B64, src[i]);
        if (!at || !*at) continue;
        acc = (acc << 6) | (uint32_t)(at - B64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[o] = '\0';
    return out;
}

static int error_answer(buffer_t *resp, int status, const char *message) {
    return answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"c_echo\",\"message\":\"%s\",\"http_status\":%d}}",
                   message, status);
}

static int do_register(buffer_t *resp) {
    return answerf(resp,
        "{\"ok\":true,\"result\":{\"schema_version\":3,"
        "\"metadata\":{\"Name\":\"c-echo\",\"Version\":\"1.0.0\",\"Author\":\"tests\","
        "\"GitHubRepository\":\"https://example.com/c-echo\"},"
        "\"capabilities\":{\"model_router\":true,\"executor\":true,\"executor_model_scope\":\"static\","
        "\"executor_input_formats\":[\"openai\"],\"executor_output_formats\":[\"openai\"],"
        "\"request_interceptor\":true}}}");
}

static int do_route(const char *req, buffer_t *resp) {
    char model[128];
    json_str(req, "RequestedModel", model, sizeof model);
    __atomic_add_fetch(&routes, 1, __ATOMIC_SEQ_CST);
    if (strcmp(model, "c-echo") == 0)
        return answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":true,\"TargetKind\":\"self\",\"Target\":\"ignored\"}}");
    if (strcmp(model, "c-provider") == 0 || strcmp(model, "c-shared") == 0)
        return answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":true,\"TargetKind\":\"provider\","
                             "\"Target\":\"CLAUDE\",\"TargetModel\":\" claude-opus-4-6 \"}}");
    return answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":false}}");
}

/* host.model.execute for compat-model, from inside this call; the inner answer's text. */
static char *ask_compat(const char *scope, int *ok) {
    static const char INNER[] = "{\"model\":\"compat-model\",\"messages\":[{\"role\":\"user\",\"content\":\"inner\"}]}";
    char *body = b64_encode(INNER, strlen(INNER));
    size_t cap = strlen(body) + strlen(scope) + 256;
    char *request = malloc(cap);
    snprintf(request, cap,
             "{\"entry_protocol\":\"openai\",\"exit_protocol\":\"openai\",\"model\":\"compat-model\","
             "\"stream\":false,\"body\":\"%s\",\"host_callback_id\":\"%s\"}", body, scope);
    int rc;
    char *answer = host_ask(host, host->host_ctx, "host.model.execute", request, &rc);
    free(body);
    free(request);
    *ok = rc == 0 && strstr(answer, "\"ok\":true") != NULL;
    if (!*ok) return answer;
    size_t len = strlen(answer);
    char *encoded = malloc(len + 1);
    json_str(answer, "body", encoded, len + 1);
    free(answer);
    char *decoded = b64_decode(encoded);
    free(encoded);
    char *text = malloc(strlen(decoded) + 1);
    json_str(decoded, "content", text, strlen(decoded) + 1);
    free(decoded);
    return text;
}

static int do_execute(const char *req, buffer_t *resp) {
    char scope[64], model[128];
    json_str(req, "host_callback_id", scope, sizeof scope);
    json_str(req, "Model", model, sizeof model);
    __atomic_add_fetch(&executes, 1, __ATOMIC_SEQ_CST);
    int ok;
    char *inner = ask_compat(scope, &ok);
    if (!ok) {
        int rc = error_answer(resp, 502, "nested host.model.execute failed");
        fprintf(stderr, "c-echo: nested call failed: %s\n", inner);
        free(inner);
        return rc;
    }
    char chat[1024];
    snprintf(chat, sizeof chat,
             "{\"id\":\"chatcmpl-c\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"%s\","
             "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"C-ECHO[%s]\"},"
             "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3,\"total_tokens\":7}}",
             model, inner);
    free(inner);
    char *payload = b64_encode(chat, strlen(chat));
    int rc = answerf(resp, "{\"ok\":true,\"result\":{\"Payload\":\"%s\",\"Headers\":{\"X-C-Executor\":[\"yes\"]}}}",
                     payload);
    free(payload);
    return rc;
}

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    resp->ptr = NULL;
    resp->len = 0;
    char *req = request_text(request, request_len);
    int rc;
    if (strcmp(method, "plugin.register") == 0 || strcmp(method, "plugin.reconfigure") == 0) {
        rc = do_register(resp);
    } else if (strcmp(method, "executor.identifier") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"identifier\":\"c-echo\"}}");
    } else if (strcmp(method, "model.route") == 0) {
        rc = do_route(req, resp);
    } else if (strcmp(method, "executor.execute") == 0) {
        rc = do_execute(req, resp);
    } else if (strcmp(method, "request.intercept_before") == 0) {
        __atomic_add_fetch(&intercepts, 1, __ATOMIC_SEQ_CST);
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"Headers\":{\"X-C-Plugin\":[\"native\"]}}}");
    } else if (strcmp(method, "request.intercept_after") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{}}");
    } else if (strcmp(method, "test.seen") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"routes\":%d,\"executes\":%d,\"intercepts\":%d}}",
                     __atomic_load_n(&routes, __ATOMIC_SEQ_CST), __atomic_load_n(&executes, __ATOMIC_SEQ_CST),
                     __atomic_load_n(&intercepts, __ATOMIC_SEQ_CST));
    } else {
        rc = error_answer(resp, 501, "unknown method");
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
