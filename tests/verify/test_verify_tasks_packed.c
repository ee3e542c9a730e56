/* test_verify_tasks_packed.c — `ingot verify --tasks` on packed weights (the default) gives the
 * figures of the resident path (--no-stream) bit for bit: accuracy, calibration, paired
 * statistics (the JSON, timings aside) and every per-item log-likelihood (--items, byte for
 * byte), with 1 and 3 threads.
 *
 * The reference is the resident path itself (every weight dequantized whole, then the CPU
 * backend's matmul), whose HellaSwag figures test_verify_tasks_cli.c checks against
 * llama-perplexity; the packed path multiplies the same weights a tile at a time through
 * matmul_rows, which kernels/backend.h promises gives the same bits. Data: tl3m F16 (source)
 * and Q4_K_M (container) from ../shared/data/peers/tl3m; HellaSwag, PIQA and ARC-Easy items
 * from ../shared/data (PROVENANCE.md), 16 of each (--task-limit, seeded).
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *shared(const char *rel, char *buf, size_t n)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("../shared/data is missing");
    snprintf(buf, n, "%s", p);
    return buf;
}

/* Run verify on the three tasks with `threads` and (resident) --no-stream; returns the JSON's
 * "tasks" with timings removed, as sorted text (caller frees), and the --items bytes in *items. */
static char *run_tasks(const char *dir, const char *threads, int resident, uint8_t **items, size_t *n_items)
{
    char f16[4096], q4[4096], piqa[4200], arc[4200], hs[4200], bz[4096], cmd[13000];
    shared("peers/tl3m/tl3m-F16.gguf", f16, sizeof f16);
    shared("peers/tl3m/tl3m-Q4_K_M.gguf", q4, sizeof q4);
    snprintf(piqa, sizeof piqa, "mc:%s", shared("piqa/valid.jsonl", bz, sizeof bz));
    snprintf(arc, sizeof arc, "%s", shared("llm-foundry-eval/arc_easy.jsonl", bz, sizeof bz));
    shared("hellaswag/hellaswag_val_full.txt.bz2", bz, sizeof bz);
    snprintf(hs, sizeof hs, "%s/hellaswag_packed.txt", dir);
    snprintf(cmd, sizeof cmd, "test -s '%s' || bzip2 -dc '%s' > '%s'", hs, bz, hs);
    if (system(cmd) != 0)
        cr_skip_test("bzip2 -dc failed (bzip2 not installed?)");
    char hs_spec[4300], json_path[4200], items_path[4200];
    snprintf(hs_spec, sizeof hs_spec, "hellaswag:%s", hs);
    snprintf(json_path, sizeof json_path, "%s/packed_t%s_r%d.json", dir, threads, resident);
    snprintf(items_path, sizeof items_path, "%s/packed_t%s_r%d.jsonl", dir, threads, resident);
    const char *argv[32] = {"verify", q4, "--source", f16, "--tasks", hs_spec, "--tasks", piqa, "--tasks", arc,
                            "--task-limit", "16", "--threads", threads, "--json-out", json_path, "--items", items_path,
                            "-q"};
    int n = 19;
    if (resident)
        argv[n++] = "--no-stream";
    argv[n] = NULL;
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify (threads %s, %s) failed: %s", threads, resident ? "resident" : "packed",
                 r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    json_t *tasks = json_object_get(j, "tasks");
    cr_assert_eq(json_object_size(tasks), 3, "three tasks in the JSON");
    cr_assert(json_integer_value(json_object_get(j, "peak_rss_bytes")) > 0, "peak_rss_bytes is reported");
    const char *name;
    json_t *t;
    json_object_foreach(tasks, name, t) {
        json_object_del(json_object_get(t, "source"), "seconds");
        json_object_del(json_array_get(json_object_get(t, "containers"), 0), "seconds");
        cr_assert(json_is_number(json_object_get(json_object_get(t, "source"), "acc")), "task %s has an acc", name);
    }
    char *s = json_dumps(tasks, JSON_SORT_KEYS);
    *items = test_read_file(items_path, n_items);
    cr_assert_not_null(*items, "%s", items_path);
    json_decref(j);
    return s;
}

Test(verify_tasks_packed, packed_equals_resident_bit_for_bit_with_1_and_3_threads, .timeout = 900)
{
    uint8_t *items_ref, *items;
    size_t n_ref, n;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", test_tmp_dir());   /* one folder: the task file's path is in the JSON */
    char *ref = run_tasks(dir, "1", 1, &items_ref, &n_ref);
    cr_assert_gt(n_ref, 0);
    const char *threads[] = {"1", "3"};
    for (int i = 0; i < 2; i++) {
        char *s = run_tasks(dir, threads[i], 0, &items, &n);
        cr_expect_str_eq(s, ref, "packed, %s threads: the task figures differ from the resident path's", threads[i]);
        cr_expect(n == n_ref && memcmp(items, items_ref, n) == 0,
                  "packed, %s threads: --items (per-item log-likelihoods) differs from the resident path's", threads[i]);
        free(s);
        free(items);
    }
    free(ref);
    free(items_ref);
}
