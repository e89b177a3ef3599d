/* A plugin whose plugin.register takes REGISTER_MS milliseconds to answer (a stand-in
 * for one that never does); every other method is refused. */
#include "cliproxy_abi.h"

#include <unistd.h>

#ifndef REGISTER_MS
#define REGISTER_MS 1500
#endif

static int plugin_call(const char *method, const uint8_t *req, size_t len, buffer_t *resp) {
    (void)req, (void)len;
    if (strcmp(method, "plugin.register") == 0) {
        usleep((useconds_t)REGISTER_MS * 1000);
        return answerf(resp, "{\"ok\":true,\"result\":{\"schema_version\":3,\"metadata\":{\"Name\":\"slow\","
                             "\"Version\":\"1.0.0\",\"Author\":\"tests\",\"GitHubRepository\":\"https://example.com/s\"},"
                             "\"capabilities\":{\"executor\":true}}}");
    }
    return answerf(resp, "{\"ok\":false,\"error\":{\"code\":\"unknown_method\",\"message\":\"unknown method\"}}");
}

static void plugin_free(void *ptr, size_t len) {
    (void)len;
    free(ptr);
}

static void plugin_shutdown(void) {}

EXPORT int cliproxy_plugin_init(const host_api_t *host, plugin_api_t *plugin) {
    (void)host;
    plugin->abi_version = 1;
    plugin->call = plugin_call;
    plugin->free_buffer = plugin_free;
    plugin->shutdown = plugin_shutdown;
    return 0;
}
