/* CPA native plugin ABI, version 1 (test copy written from the documented layout). */
#ifndef CLIPROXY_TEST_ABI_H
#define CLIPROXY_TEST_ABI_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))
#define HELPER static __attribute__((unused))

typedef struct {
    void *ptr;
    size_t len;
} buffer_t;

typedef int (*host_call_fn)(void *ctx, const char *method, const uint8_t *req, size_t req_len, buffer_t *resp);
typedef void (*host_free_fn)(void *ptr, size_t len);

typedef struct {
    uint32_t abi_version;
    void *host_ctx;
    host_call_fn call;
    host_free_fn free_buffer;
} host_api_t;

typedef int (*plugin_call_fn)(const char *method, const uint8_t *req, size_t req_len, buffer_t *resp);
typedef void (*plugin_free_fn)(void *ptr, size_t len);
typedef void (*plugin_shutdown_fn)(void);

typedef struct {
    uint32_t abi_version;
    plugin_call_fn call;
    plugin_free_fn free_buffer;
    plugin_shutdown_fn shutdown;
} plugin_api_t;

/* Put a malloc'd printf-formatted answer into *resp; returns 0. */
HELPER int answerf(buffer_t *resp, const char *fmt, ...) {
    va_list args, copy;
    va_start(args, fmt);
    va_copy(copy, args);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    char *out = malloc((size_t)n + 1);
    vsnprintf(out, (size_t)n + 1, fmt, copy);
    va_end(copy);
    resp->ptr = out;
    resp->len = (size_t)n;
    return 0;
}

/* A NUL-terminated copy of the request (requests are not NUL-terminated by contract). */
HELPER char *request_text(const uint8_t *req, size_t len) {
    char *out = malloc(len + 1);
    if (len && req) memcpy(out, req, len);
    out[len] = '\0';
    return out;
}

/* The integer after "key": in a flat JSON text, or dflt. */
HELPER int json_int(const char *text, const char *key, int dflt) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(text, pattern);
    return at ? atoi(at + strlen(pattern)) : dflt;
}

/* Copy the string after "key":" (no escapes) into dst. */
HELPER void json_str(const char *text, const char *key, char *dst, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    dst[0] = '\0';
    const char *at = strstr(text, pattern);
    if (!at) return;
    at += strlen(pattern);
    size_t i = 0;
    while (at[i] && at[i] != '"' && i + 1 < cap) {
        dst[i] = at[i];
        i++;
    }
    dst[i] = '\0';
}

/* Call the host with a NUL-terminated JSON text; the answer as a malloc'd C string. */
HELPER char *host_ask(const host_api_t *host, void *ctx, const char *method, const char *json, int *rc) {
    buffer_t out = {0};
    *rc = host->call(ctx, method, (const uint8_t *)json, json ? strlen(json) : 0, &out);
    char *text = request_text(out.ptr, out.len);
    if (out.ptr) host->free_buffer(out.ptr, out.len);
    return text;
}

#endif
