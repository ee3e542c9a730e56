/* test_util.h — helpers shared by the Criterion suites.
 *
 * Paths: INGOT_DATA names ../shared/data (the Makefile exports it); INGOT_ROOT the
 * checkout (fixtures live in tests/data); INGOT_BIN the ingot binary under test.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* "<INGOT_DATA>/<rel>" in a static buffer (the last 32 stay valid), or NULL when
 * INGOT_DATA/rel does not exist. */
const char *test_shared_path(const char *rel);

/* "<INGOT_ROOT>/tests/data/<rel>" (static buffer; the last 32 stay valid). */
const char *test_fixture_path(const char *rel);

/* A fresh empty folder under /tmp (static buffer; the last 32 stay valid). */
const char *test_tmp_dir(void);

/* Result of running the ingot binary. */
struct test_run {
    int exit_code;      /* exit status, or 128 + signal */
    char out[65536];    /* stdout, truncated */
    char err[65536];    /* stderr, truncated */
};

/* Run INGOT_BIN with argv (NULL-terminated, without argv[0]) and capture its output. */
void test_run_ingot(struct test_run *r, const char *const *argv);

/* Read a whole file into a heap buffer with a NUL after the last byte (caller frees);
 * NULL if unreadable. */
uint8_t *test_read_file(const char *path, size_t *size_bytes);

/* Write size_bytes bytes to path; returns 0 or -1. */
int test_write_file(const char *path, const void *data, size_t size_bytes);

/* Number of entries in a folder other than . and .. (-1 if it cannot be read). */
int test_count_entries(const char *folder);

#endif /* TEST_UTIL_H */
