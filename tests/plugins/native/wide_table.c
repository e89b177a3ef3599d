/* A plugin built for a later ABI: its function table has EXTRA more entries after the v1
 * four, all filled in by init, and it declares ABI version VERSION. */
#include "cliproxy_abi.h"

#ifndef EXTRA
#define EXTRA 8
#endif
#ifndef VERSION
#define VERSION 2
#endif

typedef struct {
    plugin_api_t v1;
    void *later[EXTRA];
} wide_plugin_api_t;

static int plugin_call(const char *method, const uint8_t *req, size_t len, buffer_t *resp) {
    (void)method, (void)req, (void)len;
    return answerf(resp, "{\"ok\":true,\"result\":{}}");
}

static void plugin_free(void *ptr, size_t len) {
    (void)len;
    free(ptr);
}

static void plugin_shutdown(void) {}

EXPORT int cliproxy_plugin_init(const host_api_t *host, plugin_api_t *plugin) {
    (void)host;
    wide_plugin_api_t *wide = (wide_plugin_api_t *)plugin;
    wide->v1.abi_version = VERSION;
    wide->v1.call = plugin_call;
    wide->v1.free_buffer = plugin_free;
    wide->v1.shutdown = plugin_shutdown;
    for (int i = 0; i < EXTRA; i++) wide->later[i] = (void *)plugin_call;
    return 0;
}
