/* Test plugin: JSON that is not valid UTF-8 inside its strings (a byte of Latin-1 text),
 * which Go's encoding/json reads with U+FFFD in its place (tests/plugins/test_cabi_utf8.py).
 * - test.latin1: an ok envelope whose result string holds the byte 0xE9.
 * - test.latin1_error: return code 1 with an error envelope whose message holds 0xE9.
 * - test.ask_latin1: calls the host's "test.echo" with a request string holding 0xE9 and
 *   answers the host's envelope as its result.
 * - test.garbage: return code 0 with bytes that are not JSON at all.
 * - test.rc_error_no_ok: return code 1 with {"error":{...}} and no "ok" key.
 * - test.rc_empty_error: return code 2 with {"ok":false,"error":{}}.
 * - test.rc_error_text: return code 1 with {"ok":false,"error":"text"} (not an error object). */
#include "cliproxy_abi.h"

static const host_api_t *host = NULL;

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    (void)request;
    (void)request_len;
    resp->ptr = NULL;
    resp->len = 0;
    if (strcmp(method, "test.latin1") == 0) {
        return answerf(resp, "{\"ok\":true,\"result\":{\"s\":\"caf\xe9\"}}");
    }
    if (strcmp(method, "test.latin1_error") == 0) {
        answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"x\",\"message\":\"caf\xe9 closed\",\"http_status\":503}}");
        return 1;
    }
    if (strcmp(method, "test.ask_latin1") == 0) {
        int rc;
        char *answer = host_ask(host, host->host_ctx, "test.echo", "{\"s\":\"caf\xe9\"}", &rc);
        answerf(resp, "{\"ok\":true,\"result\":{\"rc\":%d,\"host_answer\":%s}}", rc, *answer ? answer : "null");
        free(answer);
        return 0;
    }
    if (strcmp(method, "test.rc_error_no_ok") == 0) {
        answerf(resp, "{\"Error\":{\"code\":\"busy\",\"message\":\"no ok here\",\"http_status\":409}}");
        return 1;
    }
    if (strcmp(method, "test.rc_empty_error") == 0) {
        answerf(resp, "{\"ok\":false,\"error\":{}}");
        return 2;
    }
    if (strcmp(method, "test.rc_error_text") == 0) {
        answerf(resp, "{\"ok\":false,\"error\":\"text\"}");
        return 1;
    }
    if (strcmp(method, "test.garbage") == 0) {
        return answerf(resp, "\xff\xfe not json");
    }
    return answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"unknown_method\",\"message\":\"unknown method\"}}");
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
