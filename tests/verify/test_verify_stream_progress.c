/* test_verify_stream_progress.c — issue 13's two small items in the streamed verifier:
 *   - progress advances per block (verify/stream.c on_block), not only per window batch: with one
 *     batch holding every window, a log still gets a "block 1 of N" line before the windows end;
 *   - the streamed task scorer sizes its batches of items from --mem-budget (task_stream.c): a
 *     tiny budget (several batches) and the default (one batch) give the same --items bytes, as
 *     do --matmul q8 on 1 and 3 threads.
 * Data: tl3m F16 and Q4_K_M (../shared/data/peers/tl3m), HellaSwag items (PROVENANCE.md).
 */
#include "../test_util.h"

#include <criterion/criterion.h>
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

Test(verify_stream_progress, log_gets_a_line_per_block_inside_one_batch, .timeout = 300)
{
    char f16[4096], q4[4096], text[4096];
    shared("peers/tl3m/tl3m-F16.gguf", f16, sizeof f16);
    shared("peers/tl3m/tl3m-Q4_K_M.gguf", q4, sizeof q4);
    shared("tl3m/split_eval_ts.txt", text, sizeof text);
    const char *argv[] = {"verify", q4, "--source", f16, "--eval", text, "--ctx", "256", "--chunks", "4", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* stderr is not a terminal here: plain lines, the first block's at least */
    const char *blk = strstr(r.err, "block 1 of 4"), *win = strstr(r.err, "window 4 of 4");
    cr_expect(blk, "no per-block progress line: %s", r.err);
    cr_expect(win, "no final window line: %s", r.err);
    cr_expect(!blk || !win || blk < win, "the block line comes before the windows end: %s", r.err);
}

/* --items bytes of HellaSwag (16 items) on Q4_K_M with the extra arguments. */
static uint8_t *items_of(const char *dir, const char *tag, const char *const *extra, size_t *n)
{
    char f16[4096], q4[4096], bz[4096], hs[4200], spec[4300], items[4200], json[4200], cmd[13000];
    shared("peers/tl3m/tl3m-F16.gguf", f16, sizeof f16);
    shared("peers/tl3m/tl3m-Q4_K_M.gguf", q4, sizeof q4);
    shared("hellaswag/hellaswag_val_full.txt.bz2", bz, sizeof bz);
    snprintf(hs, sizeof hs, "%s/hellaswag.txt", dir);
    snprintf(cmd, sizeof cmd, "test -s '%s' || bzip2 -dc '%s' > '%s'", hs, bz, hs);
    if (system(cmd) != 0)
        cr_skip_test("bzip2 -dc failed (bzip2 not installed?)");
    snprintf(spec, sizeof spec, "hellaswag:%s", hs);
    snprintf(items, sizeof items, "%s/items_%s.jsonl", dir, tag);
    snprintf(json, sizeof json, "%s/%s.json", dir, tag);
    const char *argv[32] = {"verify", q4, "--source", f16, "--tasks", spec, "--task-limit", "16", "--items", items,
                            "--json-out", json, "-q"};
    int k = 13;
    for (int i = 0; extra[i]; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s: %s", tag, r.err);
    uint8_t *b = test_read_file(items, n);
    cr_assert_not_null(b, "%s: no %s", tag, items);
    return b;
}

Test(verify_stream_progress, task_batches_from_the_budget_keep_the_bits, .timeout = 600)
{
    const char *dir = test_tmp_dir();
    const char *one[] = {"--threads", "2", NULL};
    const char *many[] = {"--threads", "2", "--mem-budget", "1M", NULL};
    const char *q8_1[] = {"--threads", "1", "--matmul", "q8", NULL};
    const char *q8_3[] = {"--threads", "3", "--matmul", "q8", "--mem-budget", "1M", NULL};
    size_t na, nb, nc, nd;
    uint8_t *a = items_of(dir, "one", one, &na), *b = items_of(dir, "many", many, &nb);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "--items differ between one batch and a 1M budget's batches");
    uint8_t *c = items_of(dir, "q8_1", q8_1, &nc), *d = items_of(dir, "q8_3", q8_3, &nd);
    cr_expect(nc == nd && memcmp(c, d, nc) == 0, "--matmul q8 --items differ between 1 and 3 threads");
    cr_expect(na != nc || memcmp(a, c, na) != 0, "q8 changes the log-likelihoods (another arithmetic)");
    free(a);
    free(b);
    free(c);
    free(d);
}
