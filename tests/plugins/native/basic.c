/* Test plugin: registration, an echoing executor, error envelopes, bad return codes,
 * a slow call, and counters the tests read through ctypes. */
#include "cliproxy_abi.h"

#include <stdatomic.h>
#include <unistd.h>

EXPORT _Atomic long responses_made = 0;
EXPORT _Atomic long responses_freed = 0;
EXPORT _Atomic int shutdown_calls = 0;
EXPORT _Atomic int max_active = 0;
static _Atomic int active = 0;

static const char *REGISTRATION =
    "{\"ok\":true,\"result\":{\"schema_version\":3,\"metadata\":{\"Name\":\"test-basic\","
    "\"Version\":\"1.2.3\",\"Author\":\"tests\",\"ConfigFields\":[]},"
    "\"capabilities\":{\"executor\":true,\"model_provider\":true},\"host_schema\":%d}}";

static int slow(const char *req, buffer_t *resp) {
    int ms = json_int(req, "ms", 100);
    int now = atomic_fetch_add(&active, 1) + 1;
    int seen = atomic_load(&max_active);
    while (now > seen && !atomic_compare_exchange_weak(&max_active, &seen, now)) {
    }
    usleep((useconds_t)ms * 1000);
    atomic_fetch_sub(&active, 1);
    return answerf(resp, "{\"ok\":true,\"result\":{\"slept\":%d}}", ms);
}

static int dispatch(const char *method, const char *req, size_t req_len, buffer_t *resp) {
    if (strcmp(method, "plugin.register") == 0) {
        return answerf(resp, REGISTRATION, json_int(req, "schema_version", -1));
    }
    if (strcmp(method, "executor.execute") == 0) {
        char payload[4096];
        json_str(req, "Payload", payload, sizeof payload);
        return answerf(resp, "{\"ok\":true,\"result\":{\"Payload\":\"%s\",\"Headers\":{\"X-Request-Len\":[\"%zu\"]}}}",
                       payload, req_len);
    }
    if (strcmp(method, "test.teapot") == 0) {
        return answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"teapot\",\"message\":\" short and stout \",\"http_status\":418}}");
    }
    if (strcmp(method, "test.garbage") == 0) {
        answerf(resp, "this is not json");
        return 1;
    }
    if (strcmp(method, "test.rc_envelope") == 0) {
        answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"nope\",\"message\":\"refused\",\"http_status\":429}}");
        return 7;
    }
    if (strcmp(method, "test.rc_nobody") == 0) {
        return 3;
    }
    if (strcmp(method, "test.not_json") == 0) {
        return answerf(resp, "<html>");
    }
    if (strcmp(method, "test.slow") == 0) {
        return slow(req, resp);
    }
    if (strcmp(method, "test.echo_raw") == 0) {
        return answerf(resp, "{\"ok\":true,\"result\":{\"len\":%zu,\"raw\":%s}}", req_len, req);
    }
    return answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"unknown_method\",\"message\":\"unknown method\"}}");
}

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    resp->ptr = NULL;
    resp->len = 0;
    char *req = request_text(request, request_len);
    int rc = dispatch(method, req, request_len, resp);
    free(req);
    if (resp->ptr) atomic_fetch_add(&responses_made, 1);
    return rc;
}

static void plugin_free(void *ptr, size_t len) {
    (void)len;
    atomic_fetch_add(&responses_freed, 1);
    free(ptr);
}

static void plugin_shutdown(void) { atomic_fetch_add(&shutdown_calls, 1); }

EXPORT int cliproxy_plugin_init(const host_api_t *host, plugin_api_t *plugin) {
    if (host == NULL || host->abi_version != 1 || plugin == NULL) return 9;
    plugin->abi_version = 1;
    plugin->call = plugin_call;
    plugin->free_buffer = plugin_free;
    plugin->shutdown = plugin_shutdown;
    return 0;
}
