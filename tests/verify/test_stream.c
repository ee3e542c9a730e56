/* test_stream.c — the block-streamed verify and imatrix against the resident path.
 *
 * The reference is the resident path of the same binary (`verify --no-stream`: every weight
 * dequantized whole, windows one per thread, the path whose figures test_verify_cli.c checks
 * against llama-perplexity), and for imatrix the library's imatrix_compute on a resident model
 * one window at a time (the computation test_imatrix_cli.c checks against llama-imatrix). The
 * streamed figures must be the same bits: same JSON numbers, same imatrix bytes, whatever the
 * thread count and the window batch a --mem-budget gives.
 */
#include "../test_util.h"

#include "calib/imatrix_calc.h"
#include "common/ig_error.h"
#include "convert/cli.h"
#include "formats/imatrix.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "verify/verify.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED(var, rel)                                                                           \
    char var[4096];                                                                                \
    do {                                                                                           \
        const char *p_ = test_shared_path(rel);                                                    \
        if (!p_)                                                                                   \
            cr_skip_test("../shared/data is missing");                                             \
        snprintf(var, sizeof var, "%s", p_);                                                       \
    } while (0)

/* Run verify with --json; return the document (caller decrefs). */
static json_t *verify_json(const char *const *tail)
{
    const char *argv[40] = {"verify", "--json", "-q"};
    int n = 3;
    for (int i = 0; tail[i]; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    struct test_run *r = malloc(sizeof *r);
    test_run_ingot(r, argv);
    cr_assert_eq(r->exit_code, 0, "verify failed: %s", r->err);
    json_error_t err;
    json_t *j = json_loads(r->out, 0, &err);
    cr_assert_not_null(j, "%s: %s", err.text, r->out);
    free(r);
    return j;
}

/* The figures alone, as text: the document without what measures memory. */
static char *figures(json_t *j)
{
    json_t *c = json_deep_copy(j);
    json_object_del(c, "memory");
    json_object_del(c, "peak_rss_bytes");
    json_object_del(c, "window_batch");
    char *s = json_dumps(c, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(c);
    return s;
}

static int64_t mem_int(json_t *j, const char *key)
{
    json_t *v = json_object_get(json_object_get(j, "memory"), key);
    cr_assert(json_is_integer(v), "memory.%s is not an integer", key);
    return (int64_t)json_integer_value(v);
}

Test(verify_stream, streamed_equals_no_stream_on_tl3m, .timeout = 600)
{
    SHARED(src, "peers/tl3m/tl3m-F16.gguf");
    SHARED(q, "peers/tl3m/tl3m-Q4_K_M.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    const char *base[] = {q, "--source", src, "--eval", text, "--ctx", "128", "--chunks", "5", "--no-stream",
                          "--threads", "1", NULL};
    json_t *ref = verify_json(base);
    cr_expect(json_is_false(json_object_get(json_object_get(ref, "memory"), "streamed")));
    cr_expect(json_is_null(json_object_get(ref, "window_batch")), "the resident path has no window batch");
    cr_expect(json_integer_value(json_object_get(ref, "peak_rss_bytes")) > 0, "peak RSS reported");
    char *want = figures(ref);
    /* the default budget: every window in one batch, 1 and 3 threads */
    const char *threads[] = {"1", "3"};
    int64_t fixed = 0, per_window = 0;
    for (int t = 0; t < 2; t++) {
        const char *a[] = {q, "--source", src, "--eval", text, "--ctx", "128", "--chunks", "5", "--threads",
                           threads[t], NULL};
        json_t *j = verify_json(a);
        cr_expect(json_is_true(json_object_get(json_object_get(j, "memory"), "streamed")), "streamed by default");
        cr_expect_eq(json_integer_value(json_object_get(j, "window_batch")), 5, "one batch of 5 windows");
        cr_expect(json_integer_value(json_object_get(j, "peak_rss_bytes")) > 0, "peak RSS reported");
        fixed = mem_int(j, "fixed_bytes");
        per_window = mem_int(j, "per_window_bytes");
        char *got = figures(j);
        cr_expect_str_eq(got, want, "streamed, %s threads:\n%s\n--no-stream:\n%s", threads[t], got, want);
        free(got);
        json_decref(j);
    }
    /* budgets that hold one and two windows besides the block: batches 1,1,1,1,1 and 2,2,1 */
    for (int64_t wb = 1; wb <= 2; wb++) {
        for (int t = 0; t < 2; t++) {
            char budget[32];
            snprintf(budget, sizeof budget, "%lld", (long long)(fixed + wb * per_window + per_window / 2));
            const char *a[] = {q, "--source", src, "--eval", text, "--ctx", "128", "--chunks", "5", "--threads",
                               threads[t], "--mem-budget", budget, NULL};
            json_t *j = verify_json(a);
            cr_expect_eq(json_integer_value(json_object_get(j, "window_batch")), wb, "budget %s", budget);
            cr_expect_eq(mem_int(j, "mem_budget_bytes"), fixed + wb * per_window + per_window / 2);
            char *got = figures(j);
            cr_expect_str_eq(got, want, "batch %lld, %s threads:\n%s\n--no-stream:\n%s", (long long)wb, threads[t],
                             got, want);
            free(got);
            json_decref(j);
        }
    }
    free(want);
    json_decref(ref);
}

/* The HF folder (F16 safetensors, Q/K rows permuted back a tile at a time) as the source. */
Test(verify_stream, hf_source_streamed_equals_no_stream, .timeout = 600)
{
    SHARED(src, "tl3m");
    SHARED(q, "peers/tl3m/tl3m-Q4_K_M.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    const char *a[] = {q, "--source", src, "--eval", text, "--ctx", "64", "--chunks", "3", "--no-stream", NULL};
    const char *b[] = {q, "--source", src, "--eval", text, "--ctx", "64", "--chunks", "3", "--mem-budget", "1", NULL};
    json_t *ja = verify_json(a), *jb = verify_json(b);
    cr_expect_eq(json_integer_value(json_object_get(jb, "window_batch")), 1, "a 1-byte budget still runs 1 window");
    char *fa = figures(ja), *fb = figures(jb);
    cr_expect_str_eq(fb, fa, "streamed:\n%s\n--no-stream:\n%s", fb, fa);
    free(fa), free(fb);
    json_decref(ja), json_decref(jb);
}

Test(verify_stream, mem_budget_errors_exit_2)
{
    SHARED(src, "peers/tl3m/tl3m-F16.gguf");
    SHARED(text, "tl3m/split_eval_ts.txt");
    const char *bad[] = {"0", "abc", "12Q", "-5G", "", "2G2", "G", "1e30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {"verify", "--source", src, "--eval", text, "--mem-budget", bad[i], NULL};
        struct test_run r;
        test_run_ingot(&r, argv);
        cr_expect_eq(r.exit_code, 2, "--mem-budget '%s': exit %d", bad[i], r.exit_code);
        cr_expect(strstr(r.err, "--mem-budget"), "--mem-budget '%s': %s", bad[i], r.err);
        const char *im[] = {"imatrix", src, "--calib", text, "-o", "/tmp/never.dat", "--mem-budget", bad[i], NULL};
        test_run_ingot(&r, im);
        cr_expect_eq(r.exit_code, 2, "imatrix --mem-budget '%s': exit %d", bad[i], r.exit_code);
        cr_expect(strstr(r.err, "--mem-budget"), "imatrix --mem-budget '%s': %s", bad[i], r.err);
    }
}

/* Sizes by hand: K, M, G, T are powers of 1024. */
Test(verify_stream, mem_budget_parses_sizes)
{
    static const struct {
        const char *text;
        uint64_t want;
    } cases[] = {
        {"4096", 4096},      {"2G", 2ull << 30},  {"512M", 512ull << 20}, {"1.5G", 3ull << 29},
        {"300000K", 300000ull * 1024}, {"2GiB", 2ull << 30}, {"2gb", 2ull << 30}, {"1T", 1ull << 40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 0;
        cr_expect_eq(verify_mem_budget_parse(cases[i].text, &v), 0, "'%s': %s", cases[i].text, ig_error_message());
        cr_expect_eq(v, cases[i].want, "'%s': %llu, want %llu", cases[i].text, (unsigned long long)v,
                     (unsigned long long)cases[i].want);
    }
    cr_expect_gt(verify_mem_budget_default(), 0);
}

/* A NaN in a packed weight, met only as its tile is dequantized: refused with the resident
 * path's message (file, tensor, row, element), the first row of two, for any thread count. */
Test(verify_stream, nan_in_a_packed_weight_is_refused, .timeout = 120)
{
    const char *model = test_synth_f32_model("64");
    test_set_f32(model, "model.layers.0.mlp.down_proj.weight", 200, 7, 1, NAN);
    test_set_f32(model, "model.layers.0.mlp.down_proj.weight", 5, 3, 1, NAN);
    char corpus[4300];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", model);
    const char *threads[] = {"1", "3"};
    for (int t = 0; t < 2; t++) {
        const char *argv[] = {"verify", "--source", model, "--eval", corpus, "--ctx", "64", "--chunks", "2",
                              "--threads", threads[t], "-q", NULL};
        struct test_run r;
        test_run_ingot(&r, argv);
        cr_expect_eq(r.exit_code, 2, "%s threads: %s", threads[t], r.err);
        cr_expect(strstr(r.err, "model.safetensors: tensor 'blk.0.ffn_down.weight': row 5: element 3 is NaN"),
                  "%s threads: %s", threads[t], r.err);
        cr_expect_null(strstr(r.out, "nan"), "%s", r.out);
    }
}

/* imatrix through packed weights in window batches: the bytes of the resident computation one
 * window at a time. */
Test(verify_stream, imatrix_streamed_bytes_equal_resident, .timeout = 600)
{
    SHARED(src_path, "tl3m");
    SHARED(calib, "tl3m/split_calib.txt");
    char ref[4200], out[4200];
    snprintf(ref, sizeof ref, "%s/ref.dat", test_tmp_dir());
    struct model_src *src = NULL;
    struct model *m = NULL;
    cr_assert_eq(model_src_open(&src, src_path, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&m, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    int32_t *ids = NULL;
    int64_t n_ids = 0;   /* as `ingot imatrix` tokenizes it */
    cr_assert_eq(cli_tokenize_file(&src->vocab, calib, &ids, &n_ids), 0, "%s", ig_error_message());
    struct imatrix im;
    memset(&im, 0, sizeof im);
    snprintf(im.dataset, sizeof im.dataset, "%.1000s", calib);
    struct imatrix_calc_opts co = {64, 5, src->vocab.add_bos && src->vocab.bos_id >= 0 ? (int32_t)src->vocab.bos_id : -1, 1, NULL, NULL};
    cr_assert_eq(imatrix_compute(&im, m, ids, n_ids, &co), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_write_dat(&im, ref), 0, "%s", ig_error_message());
    size_t n_ref = 0, n_out = 0;
    uint8_t *want = test_read_file(ref, &n_ref);
    const char *budgets[] = {"1", "64G"};   /* windows one at a time; all five at once */
    const char *threads[] = {"1", "3"};
    for (int b = 0; b < 2; b++) {
        snprintf(out, sizeof out, "%s/im.dat", test_tmp_dir());
        const char *argv[] = {"imatrix", src_path, "--calib", calib, "-o", out, "--ctx", "64", "--chunks", "5",
                              "--mem-budget", budgets[b], "--threads", threads[b], "--json", "-q", NULL};
        struct test_run r;
        test_run_ingot(&r, argv);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        cr_expect(strstr(r.out, "\"peak_rss_bytes\""), "%s", r.out);
        cr_expect(strstr(r.out, b == 0 ? "\"window_batch\": 1" : "\"window_batch\": 5"), "%s", r.out);
        uint8_t *got = test_read_file(out, &n_out);
        cr_assert_not_null(got);
        cr_expect(n_out == n_ref && memcmp(got, want, n_ref) == 0, "budget %s: %zu bytes differ from the resident %zu",
                  budgets[b], n_out, n_ref);
        free(got);
    }
    free(want);
    free(ids);
    imatrix_free(&im);
    model_destroy(m);
    model_src_close(src);
}
