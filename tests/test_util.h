/* test_util.h — helpers shared by the Criterion suites.
 *
 * Paths: INGOT_DATA names ../shared/data (the Makefile exports it); INGOT_ROOT the
 * checkout (fixtures live in tests/data); INGOT_BIN the ingot binary under test.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <jansson.h>
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

/* A one-block F32 llama HF folder from `ingot synth` (seed 3, dim 256, FFN 512, 4 heads, 2 kv
 * heads: whole blocks of every type), training context ctx (a decimal string), in a fresh
 * folder (static buffer; the last 4 stay valid). Asserts that synth succeeded. */
const char *test_synth_f32_model(const char *ctx);

/* Set elements [col0, col0 + n) of row `row` of the F32 tensor name in folder/model.safetensors
 * to value (the last dimension is the row length). Asserts on any failure. */
void test_set_f32(const char *folder, const char *name, int64_t row, int64_t col0, int64_t n, float value);

/* The number at obj[key]; the test fails (naming key) when it is missing or not a number. */
double test_json_num(json_t *obj, const char *key);

/* Expect |got − want| <= rel·|want|, the message naming what and llama.cpp's figure. */
void test_expect_close(double got, double want, double rel, const char *what);

#endif /* TEST_UTIL_H */
