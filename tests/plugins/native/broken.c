/* Test plugins that must fail to load; BROKEN selects how:
 * 1 no init symbol, 2 wrong abi_version, 3 init returns 5, 4 no free_buffer. */
#include "cliproxy_abi.h"

EXPORT int shutdown_calls = 0;

static int plugin_call(const char *method, const uint8_t *req, size_t len, buffer_t *resp) {
    (void)method, (void)req, (void)len;
    return answerf(resp, "{\"ok\":true,\"result\":{}}");
}

static void plugin_free(void *ptr, size_t len) {
    (void)len;
    free(ptr);
}

static void plugin_shutdown(void) { shutdown_calls++; }

#if BROKEN == 1
EXPORT int some_other_init(const host_api_t *host, plugin_api_t *plugin) {
#else
EXPORT int cliproxy_plugin_init(const host_api_t *host, plugin_api_t *plugin) {
#endif
    (void)host;
    plugin->abi_version = BROKEN == 2 ? 2 : 1;
    plugin->call = plugin_call;
    plugin->free_buffer = BROKEN == 4 ? NULL : plugin_free;
    plugin->shutdown = plugin_shutdown;
    return BROKEN == 3 ? 5 : 0;
}
