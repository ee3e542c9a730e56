/* ig_error.h — status codes and the per-thread error message shared by every module.
 *
 * Library code never prints or exits: a failing function records one message with
 * ig_error_set() and returns a negative IG_E... code. Only convert/ turns a code into an
 * exit status (IG_EINVAL -> 2, IG_EIO/IG_ENOMEM/IG_ENODEV -> 3) and prints the message.
 * common/ sits below every folder of design.md: it holds only what all of them need
 * (status codes, fp16/bf16 conversion, checked arithmetic) and depends on nothing.
 */
#ifndef IG_ERROR_H
#define IG_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ig_status {
    IG_OK = 0,
    IG_EINVAL = -1,  /* bad input: a file, a field, an argument (exit 2) */
    IG_EIO = -2,     /* the operating system refused a read, write, mmap or rename (exit 3) */
    IG_ENOMEM = -3,  /* an allocation failed (exit 3) */
    IG_ENODEV = -4,  /* no CUDA device, or a CUDA call failed (exit 3) */
};

#define IG_ERROR_MAX 1024

/* Record the message for the current thread (printf format) and return code, so a
 * caller can write `return ig_error_set(IG_EINVAL, "...")`. A later call replaces it. */
int ig_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (used by callers that know the file name
 * when the callee did not). Returns code. */
int ig_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread, or "" (never NULL). */
const char *ig_error_message(void);

/* Forget the recorded message. */
void ig_error_clear(void);

/* Name of a status code ("bad input", "I/O error", ...). */
const char *ig_status_name(int code);

/* ---- failures inside parallel loops --------------------------------------------------
 * The message is per thread, so a worker's message is lost when a loop reports its failure
 * on the calling thread. A struct ig_par_error carries it out: each failing iteration calls
 * ig_par_error_record() on its own thread (which copies that thread's message), and after
 * the loop the caller returns ig_par_error_raise(). The failure kept is the one with the
 * lowest iteration index, so the message is the same whatever the thread count or the
 * schedule (and the same as a serial loop that stops at its first failure). */
struct ig_par_error {
    int code;             /* 0: nothing failed; else the kept failure's IG_E... code */
    int64_t index;        /* iteration of the kept failure */
    char message[IG_ERROR_MAX];
};

/* Start with no failure. */
void ig_par_error_init(struct ig_par_error *e);

/* In a worker, after a call failed with code (< 0) in iteration index: keep this thread's
 * current message if index is the lowest failing one so far. Thread-safe. */
void ig_par_error_record(struct ig_par_error *e, int64_t index, int code);

/* True when a failure at an index below `index` is already kept: iteration `index` cannot
 * change the outcome and may be skipped. (Skipping on "anything failed" instead would let a
 * later iteration's failure hide an earlier one, and the message would depend on timing.) */
bool ig_par_error_skip(const struct ig_par_error *e, int64_t index);

/* On the calling thread, after the loop: 0 when nothing failed; else set this thread's
 * message to the kept one and return its code. */
int ig_par_error_raise(const struct ig_par_error *e);

/* Test hook: make the nth call to ig_malloc/ig_calloc from now fail (0 = never). */
void ig_alloc_fail_after(long n);

/* malloc/calloc/realloc that honour the test hook above and record IG_ENOMEM messages. */
void *ig_malloc(size_t size_bytes);
void *ig_calloc(size_t n, size_t size_bytes);
void *ig_realloc(void *p, size_t size_bytes);

/* Checked arithmetic for sizes read from files. Return false on overflow. */
static inline bool ig_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool ig_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

#ifdef __cplusplus
}
#endif

#endif /* IG_ERROR_H */
