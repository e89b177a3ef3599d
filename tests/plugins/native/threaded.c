/* Test plugin: calls the host from threads it creates itself. */
#include "cliproxy_abi.h"

#include <pthread.h>
#include <unistd.h>

static const host_api_t *host = NULL;

typedef struct {
    char *request;
    char *answer;
    int rc;
} job_t;

static void *ask_from_thread(void *arg) {
    job_t *job = arg;
    job->answer = host_ask(host, host->host_ctx, "test.from_thread", job->request, &job->rc);
    return NULL;
}

static int joined(const char *req, buffer_t *resp) {
    job_t job = {(char *)req, NULL, -1};
    pthread_t thread;
    pthread_create(&thread, NULL, ask_from_thread, &job);
    pthread_join(thread, NULL);
    answerf(resp, "{\"ok\":true,\"result\":{\"rc\":%d,\"host_answer\":%s}}", job.rc,
            *job.answer ? job.answer : "null");
    free(job.answer);
    return 0;
}

static void *emit_later(void *arg) {
    char *stream = arg;
    char json[256];
    int rc;
    for (int i = 0; i < 3; i++) {
        usleep(20000);
        snprintf(json, sizeof json, "{\"stream_id\":\"%s\",\"payload\":\"%d\"}", stream, i);
        free(host_ask(host, host->host_ctx, "host.stream.emit", json, &rc));
    }
    snprintf(json, sizeof json, "{\"stream_id\":\"%s\"}", stream);
    free(host_ask(host, host->host_ctx, "host.stream.close", json, &rc));
    free(stream);
    return NULL;
}

static int detached(const char *req, buffer_t *resp) {
    char *stream = malloc(64);
    json_str(req, "stream_id", stream, 64);
    pthread_t thread;
    pthread_create(&thread, NULL, emit_later, stream);
    pthread_detach(thread);
    return answerf(resp, "{\"ok\":true,\"result\":{\"started\":true}}");
}

static int plugin_call(const char *method, const uint8_t *request, size_t request_len, buffer_t *resp) {
    resp->ptr = NULL;
    resp->len = 0;
    char *req = request_text(request, request_len);
    int rc;
    if (strcmp(method, "test.thread") == 0) {
        rc = joined(req, resp);
    } else if (strcmp(method, "executor.execute_stream") == 0) {
        rc = detached(req, resp);
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
