/* Status codes and the thread-local error message behind ebm_last_error(). A failing function
 * records one line naming the file, field or value at fault; the caller can add context in front. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];

const char *ebm_last_error(void) { return err_msg; }

void ebm_clear_error(void) { err_msg[0] = '\0'; }

/* Formats into a local buffer first: an argument may be ebm_last_error() itself (adding context to the
 * message of a failed call), and vsnprintf into the buffer it reads is undefined behaviour. */
ebm_status ebm_fail(ebm_status s, const char *fmt, ...) {
    char msg[sizeof err_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(err_msg, msg, strlen(msg) + 1);
    return s;
}

ebm_status ebm_fail_prefix(ebm_status s, const char *fmt, ...) {
    char old[sizeof err_msg], pre[sizeof err_msg];
    memcpy(old, err_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t n = strlen(pre);
    if (n > sizeof err_msg - 3) n = sizeof err_msg - 3;
    memcpy(err_msg, pre, n);
    memcpy(err_msg + n, ": ", 2);
    size_t rest = sizeof err_msg - n - 3;
    size_t m = strlen(old);
    if (m > rest) m = rest;
    memcpy(err_msg + n + 2, old, m);
    err_msg[n + 2 + m] = '\0';
    return s;
}

const char *ebm_status_name(ebm_status s) {
    switch (s) {
    case EBM_OK: return "EBM_OK";
    case EBM_EIO: return "EBM_EIO";
    case EBM_EFORMAT: return "EBM_EFORMAT";
    case EBM_ESHAPE: return "EBM_ESHAPE";
    case EBM_ENOMEM: return "EBM_ENOMEM";
    case EBM_EINVAL: return "EBM_EINVAL";
    case EBM_ENAN: return "EBM_ENAN";
    case EBM_ENOTSUP: return "EBM_ENOTSUP";
    case EBM_ECANCELED: return "EBM_ECANCELED";
    }
    return "EBM_E?";
}

const char *ebm_version(void) { return EBM_VERSION_STRING; }

bool ebm_parse_size(const char *s, size_t *out) {
    if (!s || !*s) return false;
    size_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (size_t)(*p - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}
