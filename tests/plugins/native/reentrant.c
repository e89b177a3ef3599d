/* Test plugin: calls back into the host synchronously from inside its own call. */
#include "cliproxy_abi.h"

static const host_api_t *host = NULL;

static const char *LOG = "{\"level\":\"info\",\"message\":\"from C\",\"fields\":{\"k\":\"v\"}}";

static int reenter(const char *req, buffer_t *resp) {
    int log_rc, custom_rc;
    char *log_answer = host_ask(host, host->host_ctx, "host.log", LOG, &log_rc);
    char *custom = host_ask(host, host->host_ctx, "test.custom", req, &custom_rc);
    answerf(resp, "{\"ok\":true,\"result\":{\"log_rc\":%d,\"log_answer\":%s,\"custom_rc\":%d,\"host_answer\":%s}}",
            log_rc, *log_answer ? log_answer : "null", custom_rc, *custom ? custom : "null");
    free(log_answer);
    free(custom);
    return 0;
}

static int forward(const char *method, const char *req, buffer_t *resp) {
    int rc;
    char *answer = host_ask(host, host->host_ctx, method, req, &rc);
    answerf(resp, "{\"ok\":true,\"result\":{\"rc\":%d,\"host_answer\":%s}}", rc, *answer ? answer : "null");
    free(answer);
    return 0;
}

static int bad_calls(buffer_t *resp) {
    static uintptr_t bogus = 987654321;
    buffer_t out = {(void *)1, 1};
    int null_method = host->call(host->host_ctx, NULL, NULL, 0, &out);
    int null_ptr_left = out.ptr == NULL;
    int null_ctx = host->call(NULL, "host.log", NULL, 0, &out);
    int bad_ctx = host->call(&bogus, "host.log", NULL, 0, &out);
    int null_resp = host->call(host->host_ctx, "host.log", (const uint8_t *)"{}", 2, NULL);
    int bad_json_rc;
    char *bad_json = host_ask(host, host->host_ctx, "host.log", "{not json", &bad_json_rc);
    answerf(resp, "{\"ok\":true,\"result\":{\"null_method\":%d,\"cleared\":%d,\"null_ctx\":%d,\"bad_ctx\":%d,"
                  "\"null_resp\":%d,\"bad_json_rc\":%d,\"bad_json\":%s}}",
            null_method, null_ptr_left, null_ctx, bad_ctx, null_resp, bad_json_rc, bad_json);
    free(bad_json);
    return 0;
}

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    resp->ptr = NULL;
    resp->len = 0;
    char *req = request_text(request, request_len);
    int rc;
    if (strcmp(method, "test.reenter") == 0) {
        rc = reenter(req, resp);
    } else if (strcmp(method, "test.forward") == 0) {
        char target[128];
        json_str(req, "method", target, sizeof target);
        rc = forward(target, req, resp);
    } else if (strcmp(method, "test.bad_calls") == 0) {
        rc = bad_calls(resp);
    } else if (strcmp(method, "test.leaf") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"leaf\":%d}}", json_int(req, "n", -1));
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
