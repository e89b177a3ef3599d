/* Test plugin: a model router that misbehaves in every way a router can, by model name
 * (tests/plugins/test_flow_native.py). The host must fall through to the next router.
 *
 *   fall-error     an error envelope (the plugin "raises")
 *   fall-invalid   Handled with an unknown TargetKind
 *   fall-nokind    Handled with an executor target but no Target
 *   fall-list      a result that is not an object
 *   fall-rc        a non-zero return code with a body that is not an envelope (garbage)
 *   anything else  unhandled
 */
#include "cliproxy_abi.h"

static int seen = 0;

static int do_route(const char *req, buffer_t *resp) {
    char model[128];
    json_str(req, "RequestedModel", model, sizeof model);
    __atomic_add_fetch(&seen, 1, __ATOMIC_SEQ_CST);
    if (strcmp(model, "fall-error") == 0)
        return answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"boom\",\"message\":\"router raised\",\"http_status\":500}}");
    if (strcmp(model, "fall-invalid") == 0)
        return answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":true,\"TargetKind\":\"both\",\"Target\":\"claude\"}}");
    if (strcmp(model, "fall-nokind") == 0)
        return answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":true,\"TargetKind\":\"executor\"}}");
    if (strcmp(model, "fall-list") == 0)
        return answerf(resp, "{\"ok\":true,\"result\":[1,2,3]}");
    if (strcmp(model, "fall-rc") == 0) {
        answerf(resp, "\x01garbage, not JSON");
        return 7;
    }
    return answerf(resp, "{\"ok\":true,\"result\":{\"Handled\":false}}");
}

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    resp->ptr = NULL;
    resp->len = 0;
    char *req = request_text(request, request_len);
    int rc;
    if (strcmp(method, "plugin.register") == 0 || strcmp(method, "plugin.reconfigure") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"schema_version\":3,"
                           "\"metadata\":{\"Name\":\"garble\",\"Version\":\"1.0.0\",\"Author\":\"tests\","
                           "\"GitHubRepository\":\"https://example.com/garble\"},"
                           "\"capabilities\":{\"model_router\":true}}}");
    } else if (strcmp(method, "model.route") == 0) {
        rc = do_route(req, resp);
    } else if (strcmp(method, "test.seen") == 0) {
        rc = answerf(resp, "{\"ok\":true,\"result\":{\"routes\":%d}}", __atomic_load_n(&seen, __ATOMIC_SEQ_CST));
    } else {
        rc = answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"unknown\",\"message\":\"unknown method\"}}");
    }
    free(req);
    return rc;
}

static void plugin_free(void *ptr, size_t len) {
    (void)len;
    free(ptr);
}

EXPORT int cliproxy_plugin_init(const host_api_t *h, plugin_api_t *plugin) {
    (void)h;
    plugin->abi_version = 1;
    plugin->call = plugin_call;
    plugin->free_buffer = plugin_free;
    plugin->shutdown = NULL;
    return 0;
}
