/* ig_error.c — per-thread error message and the allocation-failure test hook. */
#include "ig_error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_message[IG_ERROR_MAX];
static _Thread_local long alloc_fail_countdown;

/* ---- messages ---------------------------------------------------------------------- */

int ig_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

int ig_error_wrap(int code, const char *fmt, ...)
{
    char old[IG_ERROR_MAX];
    va_list ap;
    memcpy(old, error_message, sizeof old);
    va_start(ap, fmt);
    int n = vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    /* append ": <old message>", cut at the buffer's end */
    size_t used = n < 0 ? 0 : (size_t)n < sizeof error_message ? (size_t)n : sizeof error_message - 1;
    size_t room = sizeof error_message - used;
    if (room > 2) {
        memcpy(error_message + used, ": ", 2);
        size_t k = strnlen(old, room - 3);
        memcpy(error_message + used + 2, old, k);
        error_message[used + 2 + k] = '\0';
    }
    return code;
}

const char *ig_error_message(void)
{
    return error_message;
}

void ig_error_clear(void)
{
    error_message[0] = '\0';
}

const char *ig_status_name(int code)
{
    switch (code) {
    case IG_OK: return "ok";
    case IG_EINVAL: return "bad input";
    case IG_EIO: return "I/O error";
    case IG_ENOMEM: return "out of memory";
    case IG_ENODEV: return "device error";
    default: return "unknown error";
    }
}

/* ---- failures inside parallel loops --------------------------------------------------- */

static pthread_mutex_t par_error_lock = PTHREAD_MUTEX_INITIALIZER;

void ig_par_error_init(struct ig_par_error *e)
{
    e->code = 0;
    e->index = INT64_MAX;
    e->message[0] = '\0';
}

void ig_par_error_record(struct ig_par_error *e, int64_t index, int code)
{
    pthread_mutex_lock(&par_error_lock);
    if (code < 0 && (e->code == 0 || index < e->index)) {
        e->code = code;
        e->index = index;
        memcpy(e->message, error_message, sizeof e->message);
    }
    pthread_mutex_unlock(&par_error_lock);
}

bool ig_par_error_skip(const struct ig_par_error *e, int64_t index)
{
    pthread_mutex_lock(&par_error_lock);
    bool skip = e->code != 0 && e->index < index;
    pthread_mutex_unlock(&par_error_lock);
    return skip;
}

int ig_par_error_raise(const struct ig_par_error *e)
{
    if (e->code == 0)
        return 0;
    memcpy(error_message, e->message, sizeof error_message);
    return e->code;
}

/* ---- allocation with a failure hook -------------------------------------------------- */

void ig_alloc_fail_after(long n)
{
    alloc_fail_countdown = n;
}

static bool alloc_should_fail(void)
{
    if (alloc_fail_countdown <= 0)
        return false;
    return --alloc_fail_countdown == 0;
}

void *ig_malloc(size_t size_bytes)
{
    void *p = alloc_should_fail() ? NULL : malloc(size_bytes ? size_bytes : 1);
    if (!p)
        ig_error_set(IG_ENOMEM, "out of memory allocating %zu bytes", size_bytes);
    return p;
}

void *ig_calloc(size_t n, size_t size_bytes)
{
    void *p = alloc_should_fail() ? NULL : calloc(n ? n : 1, size_bytes ? size_bytes : 1);
    if (!p)
        ig_error_set(IG_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size_bytes);
    return p;
}

void *ig_realloc(void *p, size_t size_bytes)
{
    void *q = alloc_should_fail() ? NULL : realloc(p, size_bytes ? size_bytes : 1);
    if (!q)
        ig_error_set(IG_ENOMEM, "out of memory reallocating to %zu bytes", size_bytes);
    return q;
}
