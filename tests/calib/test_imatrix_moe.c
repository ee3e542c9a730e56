/* test_imatrix_moe.c — mixtral's importance matrix, per expert, as llama.cpp computes, stores
 * and uses it (calib/imatrix_calc.c, formats/imatrix.c, convert's write_tensor).
 *
 * Independent sources of the expected values:
 *   (a) the mean of x² over each expert's rows is recomputed here in double: the router's
 *       input captured from a separate forward pass, the router logits, the top-2 choice and
 *       the experts' gate/up/SwiGLU computed by this test from the fp32 weights;
 *   (b) the quantized bytes of each expert's slice come from llama.cpp's ggml_quantize_chunk
 *       (libggml-base of node-llama-cpp, tests/data/ggml_probe/ggml_lib.h) called with that
 *       expert's rows and the slice imatrix + e·n_per_row, as llama-quantize calls it;
 *   (c) the .dat layout is parsed here byte by byte against gguf-facts.md §7 and llama.cpp's
 *       save_imatrix_legacy (tools/imatrix/imatrix.cpp): nval = n_in·n_expert, ncall =
 *       ceil(max count / chunk_size), value = (sum2 / count of its expert) · ncall, 1 · ncall
 *       for an expert that saw no rows, an entry whose experts all saw none left out.
 * The model: `ingot synth --arch mixtral` (seed 1, 4 experts, 2 per token).
 */
#include "../test_util.h"
#include "../data/ggml_probe/ggml_lib.h"

#include "calib/imatrix_calc.h"
#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "formats/imatrix.h"
#include "formats/model_src.h"
#include "model/llama.h"
#include "model/tensor_f32.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A mixtral synth folder (dim, ff) with one or two blocks; returns the folder. */
static const char *make_mixtral(const char *dim, const char *ff, const char *layers)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/mx", test_tmp_dir());
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "mixtral", "-o", dir, "--dim", dim, "--layers", layers, "--heads", "4",
                           "--kv-heads", "2", "--ff", ff, "--corpus-lines", "200", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    return dir;
}

/* ---- (a) the per-expert importance is the mean of x² over the rows routed to the expert ---- */

struct router_in {
    int64_t layer, n;
    float *rows;   /* [n][dim]: rms_norm(h)·ffn_norm of every row, as the block computed it */
};

static int grab_ffn_input(void *ctx, int64_t layer, enum model_linear_input which, const float *X, int64_t n,
                          int64_t dim)
{
    struct router_in *ri = ctx;
    if (which == MODEL_IN_FFN && layer == ri->layer) {
        memcpy(ri->rows + ri->n * dim, X, (size_t)(n * dim) * sizeof *X);
        ri->n += n;
    }
    return 0;
}

/* The fp32 values of src's tensor fmt (with block l), read from the source file. */
static float *weights(const struct model_src *src, const char *fmt, int64_t l)
{
    char name[96];
    snprintf(name, sizeof name, fmt, (long long)l);
    const struct src_tensor *t = model_src_find(src, name);
    cr_assert(t, "%s", name);
    float *w = malloc((size_t)(t->ne[0] * src_tensor_n_rows(t)) * sizeof *w);
    cr_assert_eq(tensor_read_rows_f32(t, 0, src_tensor_n_rows(t), w), 0, "%s", ig_error_message());
    return w;
}

Test(imatrix_moe, each_expert_is_the_mean_square_of_the_rows_routed_to_it, .timeout = 120)
{
    const char *dir = make_mixtral("64", "128", "2");
    struct model_src *src;
    struct model *m;
    cr_assert_eq(model_src_open(&src, dir, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_create(&m, src, tensor_fetch_f32, NULL), 0, "%s", ig_error_message());
    const struct model_hparams *hp = model_hparams(m);
    const int64_t d = hp->n_embd, ff = hp->n_ff, ne = hp->n_expert, n_ctx = 32, n_win = 3;
    cr_assert_eq(ne, 4);
    int32_t tokens[96];
    for (int i = 0; i < 96; i++)
        tokens[i] = (int32_t)((i * 37 + 11) % hp->n_vocab);
    struct imatrix im = {0};
    struct imatrix_calc_opts o = {n_ctx, 0, -1, 2, NULL, NULL};
    cr_assert_eq(imatrix_compute(&im, m, tokens, 96, &o), 0, "%s", ig_error_message());

    for (int64_t l = 0; l < hp->n_layer; l++) {
        /* a separate pass, window by window, keeping block l's FFN input rows */
        struct router_in ri = {l, 0, malloc((size_t)(n_win * n_ctx * d) * sizeof(float))};
        struct model_ctx *c;
        cr_assert_eq(model_ctx_create(&c, m, n_ctx), 0);
        model_ctx_set_capture(c, grab_ffn_input, &ri);
        float *x = malloc((size_t)(n_ctx * d) * sizeof *x);
        for (int64_t w = 0; w < n_win; w++) {
            cr_assert_eq(model_embed(m, tokens + w * n_ctx, n_ctx, x), 0);
            for (int64_t b = 0; b <= l; b++)
                cr_assert_eq(model_block_forward(m, c, b, x, n_ctx), 0, "%s", ig_error_message());
        }
        model_ctx_destroy(c);
        free(x);
        cr_assert_eq(ri.n, n_win * n_ctx);
        float *router = weights(src, "blk.%lld.ffn_gate_inp.weight", l);
        float *gate = weights(src, "blk.%lld.ffn_gate_exps.weight", l);
        float *up = weights(src, "blk.%lld.ffn_up_exps.weight", l);
        double *s_in = calloc((size_t)(ne * d), sizeof(double)), *s_dn = calloc((size_t)(ne * ff), sizeof(double));
        double *s_all = calloc((size_t)d, sizeof(double));
        int64_t count[4] = {0};
        for (int64_t t = 0; t < ri.n; t++) {
            const float *r = ri.rows + t * d;
            double logit[4];
            for (int64_t e = 0; e < ne; e++) {
                logit[e] = 0;
                for (int64_t j = 0; j < d; j++)
                    logit[e] += (double)router[e * d + j] * r[j];
            }
            for (int64_t j = 0; j < d; j++)
                s_all[j] += (double)r[j] * r[j];
            /* top 2 (softmax keeps the order of the logits) */
            int64_t a = 0;
            for (int64_t e = 1; e < ne; e++)
                a = logit[e] > logit[a] ? e : a;
            int64_t b = a == 0 ? 1 : 0;
            for (int64_t e = 0; e < ne; e++)
                b = e != a && logit[e] > logit[b] ? e : b;
            const int64_t chosen[2] = {a, b};
            for (int k = 0; k < 2; k++) {
                const int64_t e = chosen[k];
                count[e]++;
                for (int64_t j = 0; j < d; j++)
                    s_in[e * d + j] += (double)r[j] * r[j];
                for (int64_t i = 0; i < ff; i++) {   /* the down input: silu(gate·r) · (up·r) */
                    double g = 0, u = 0;
                    for (int64_t j = 0; j < d; j++) {
                        g += (double)gate[(e * ff + i) * d + j] * r[j];
                        u += (double)up[(e * ff + i) * d + j] * r[j];
                    }
                    const double h = g / (1.0 + exp(-g)) * u;
                    s_dn[e * ff + i] += h * h;
                }
            }
        }
        char name[96];
        snprintf(name, sizeof name, "blk.%lld.ffn_gate_inp.weight", (long long)l);
        const float *gi = imatrix_find(&im, name, d);
        cr_assert(gi, "the router has its own entry, over every row");
        for (int64_t j = 0; j < d; j++)
            cr_expect(fabs(gi[j] - s_all[j] / (double)ri.n) <= 1e-5 * s_all[j] / (double)ri.n, "%s[%lld]", name,
                      (long long)j);
        for (int k = 0; k < 3; k++) {
            static const char *const kinds[3] = {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"};
            const int64_t n_in = k == 2 ? ff : d;
            const double *s = k == 2 ? s_dn : s_in;
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, kinds[k]);
            const float *v = imatrix_find(&im, name, n_in * ne);
            cr_assert(v, "%s: %lld values (columns x experts)", name, (long long)(n_in * ne));
            const struct imatrix_entry *en = NULL;
            for (int64_t i = 0; i < im.n_entries; i++)
                en = strcmp(im.entries[i].name, name) == 0 ? &im.entries[i] : en;
            cr_assert_eq(en->n_mat, ne);
            for (int64_t e = 0; e < ne; e++) {
                cr_expect_eq((int64_t)en->counts[e], count[e], "%s: expert %lld's rows", name, (long long)e);
                cr_assert_gt(count[e], 0, "every expert of this model gets rows");
                for (int64_t j = 0; j < n_in; j++) {
                    const double want = s[e * n_in + j] / (double)count[e];
                    cr_expect(fabs(v[e * n_in + j] - want) <= 1e-4 * want + 1e-9, "%s expert %lld column %lld: %g, "
                              "expected %g", name, (long long)e, (long long)j, (double)v[e * n_in + j], want);
                }
            }
        }
        cr_expect_eq(count[0] + count[1] + count[2] + count[3], 2 * ri.n, "two experts per row");
        free(s_in);
        free(s_dn);
        free(s_all);
        free(ri.rows);
        free(router);
        free(gate);
        free(up);
    }
    /* attention entries as for llama; no dense FFN entries */
    cr_expect_not_null(imatrix_find(&im, "blk.1.attn_q.weight", 64));
    cr_expect_not_null(imatrix_find(&im, "blk.1.attn_output.weight", 64));
    cr_expect_null(imatrix_find(&im, "blk.0.ffn_up.weight", 64));
    cr_expect_eq(im.n_entries, 16, "8 entries per block");
    imatrix_free(&im);
    model_destroy(m);
    model_src_close(src);
}

/* ---- (b) an expert stack quantized with its imatrix: llama.cpp's bytes, slice by slice ---- */

static void expect_stack_bytes_as_ggml(const struct ggml_lib *lib, const char *dir, const char *gguf,
                                       const char *imx_path, const char *tensor, int type)
{
    struct model_src *hf, *g;
    struct imatrix im;
    cr_assert_eq(model_src_open(&hf, dir, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_src_open(&g, gguf, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_read(&im, imx_path), 0, "%s", ig_error_message());
    const struct src_tensor *ts = model_src_find(hf, tensor), *tq = model_src_find(g, tensor);
    cr_assert(ts && tq, "%s", tensor);
    cr_assert_eq(tq->type, type, "%s is %s", tensor, ggml_type_name(tq->type));
    cr_assert_eq(ts->n_dims, 3);
    const int64_t n_per_row = ts->ne[0], rows = ts->ne[1], ne = ts->ne[2];
    /* llama-quantize's importance: in_sum2 / counts of each expert, computed here from the file */
    const struct imatrix_entry *en = NULL;
    for (int64_t i = 0; i < im.n_entries; i++)
        en = strcmp(im.entries[i].name, tensor) == 0 ? &im.entries[i] : en;
    cr_assert(en && en->n == n_per_row * ne && en->n_mat == ne, "%s", tensor);
    float *imp = malloc((size_t)en->n * sizeof *imp);
    for (int64_t i = 0; i < en->n; i++)
        imp[i] = en->sum2[i] / en->counts[i / n_per_row];
    const size_t row_bytes = lib->type_size(type) * (size_t)(n_per_row / lib->blck_size(type));
    cr_assert_eq(tq->size_bytes, row_bytes * (size_t)(rows * ne));
    float *f = malloc((size_t)(rows * n_per_row) * sizeof *f);
    uint8_t *q = malloc(row_bytes * (size_t)rows);
    lib->quantize_init(type);
    for (int64_t e = 0; e < ne; e++) {
        cr_assert_eq(tensor_read_rows_f32(ts, e * rows, rows, f), 0, "%s", ig_error_message());
        lib->quantize_chunk(type, f, q, 0, rows, n_per_row, imp + e * n_per_row);
        cr_expect(memcmp(q, tq->data + (size_t)(e * rows) * row_bytes, row_bytes * (size_t)rows) == 0,
                  "%s (%s) expert %lld: ingot's bytes differ from ggml_quantize_chunk with the expert's slice", tensor,
                  ggml_type_name(type), (long long)e);
        /* and the slice matters: expert 0's importance on expert e's rows gives other bytes */
        if (e > 0 && type != GGML_TYPE_Q8_0) {
            lib->quantize_chunk(type, f, q, 0, rows, n_per_row, imp);
            cr_expect(memcmp(q, tq->data + (size_t)(e * rows) * row_bytes, row_bytes * (size_t)rows) != 0,
                      "%s expert %lld: the wrong slice gives the same bytes (test too weak)", tensor, (long long)e);
        }
    }
    free(f);
    free(q);
    free(imp);
    imatrix_free(&im);
    model_src_close(hf);
    model_src_close(g);
}

Test(imatrix_moe, stacks_quantize_as_ggml_quantize_chunk_on_each_expert_slice, .timeout = 180)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, NULL))
        cr_skip_test("llama.cpp's libggml-base is not installed (set GGML_BASE_LIB; node-llama-cpp in /tmp/llb)");
    /* rows of 256: whole Q4_K blocks in gate/up (n_embd) and down (n_ff) */
    const char *dir = make_mixtral("256", "256", "1");
    char text[4300], imx[4300], out[4300];
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(imx, sizeof imx, "%s/imx.gguf", dir);
    struct test_run r;
    const char *ia[] = {"imatrix", dir, "--calib", text, "-o", imx, "--ctx", "32", "--chunks", "6", "-q", NULL};
    test_run_ingot(&r, ia);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *types[2] = {"Q4_K_S", "Q4_0"};
    const int ids[2] = {GGML_TYPE_Q4_K, GGML_TYPE_Q4_0};
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s/%s.gguf", dir, types[k]);
        const char *ca[] = {"convert", dir, "-o", out, "--type", types[k], "--pure", "--imatrix", imx, "-q", NULL};
        test_run_ingot(&r, ca);
        cr_assert_eq(r.exit_code, 0, "%s", r.err);
        expect_stack_bytes_as_ggml(&lib, dir, out, imx, "blk.0.ffn_gate_exps.weight", ids[k]);
        expect_stack_bytes_as_ggml(&lib, dir, out, imx, "blk.0.ffn_up_exps.weight", ids[k]);
        expect_stack_bytes_as_ggml(&lib, dir, out, imx, "blk.0.ffn_down_exps.weight", ids[k]);
    }
}

/* ---- (c) storage: the .dat layout, reading back, an expert that saw no rows ---------------- */

static int32_t rd_i32(const uint8_t **p)
{
    int32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}

Test(imatrix_moe, dat_layout_is_llama_cpps_and_reads_back)
{
    /* a hand-made stack: 3 experts of 4 columns, expert 1 never chosen; a dense entry beside */
    const float sum2[12] = {4, 8, 12, 16, 0, 0, 0, 0, 1, 2, 3, 4.5f};
    const float counts[3] = {4, 0, 2}, dense[4] = {1, 2, 3, 4}, none[3] = {0, 0, 0};
    struct imatrix im = {0};
    cr_assert_eq(imatrix_add_stack(&im, "blk.0.ffn_up_exps.weight", sum2, 4, 3, counts), 0);
    cr_assert_eq(imatrix_add(&im, "blk.0.attn_q.weight", dense, 4, 2), 0);
    cr_assert_eq(imatrix_add_stack(&im, "blk.0.ffn_down_exps.weight", sum2, 4, 3, none), 0);
    im.chunk_count = 3;
    im.chunk_size = 2;
    snprintf(im.dataset, sizeof im.dataset, "c.txt");
    char dat[4200], gg[4200];
    snprintf(dat, sizeof dat, "%s/m.dat", test_tmp_dir());
    snprintf(gg, sizeof gg, "%s/m.gguf", test_tmp_dir());
    cr_assert_eq(imatrix_write_dat(&im, dat), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_write_gguf(&im, gg), 0, "%s", ig_error_message());

    size_t size;
    uint8_t *f = test_read_file(dat, &size);
    cr_assert(f);
    const uint8_t *p = f;
    cr_expect_eq(rd_i32(&p), 2, "the stack whose experts saw no rows is left out (save_imatrix_legacy)");
    cr_assert_eq(rd_i32(&p), 24);
    cr_expect(memcmp(p, "blk.0.ffn_up_exps.weight", 24) == 0);
    p += 24;
    const int32_t ncall = rd_i32(&p);
    cr_expect_eq(ncall, 2, "ceil(max count 4 / chunk_size 2)");
    cr_assert_eq(rd_i32(&p), 12, "nval = n_in x n_expert");
    float v[12];
    memcpy(v, p, sizeof v);
    p += sizeof v;
    for (int i = 0; i < 12; i++) {
        const float want = counts[i / 4] > 0 ? sum2[i] / counts[i / 4] * 2.0f : 1.0f * 2.0f;
        cr_expect_eq(v[i], want, "value %d: (sum2 / count of its expert) · ncall, 1 · ncall for expert 1", i);
    }
    cr_assert_eq(rd_i32(&p), 19);
    cr_expect(memcmp(p, "blk.0.attn_q.weight", 19) == 0);
    p += 19;
    cr_expect_eq(rd_i32(&p), 1, "ceil(2 / 2)");
    cr_expect_eq(rd_i32(&p), 4);
    p += 16;
    cr_expect_eq(rd_i32(&p), 3, "trailer: chunks");
    cr_expect_eq(rd_i32(&p), 5, "trailer: dataset length");
    cr_expect(memcmp(p, "c.txt", 5) == 0);
    cr_expect_eq((size_t)(p + 5 - f), size, "nothing after the trailer");
    free(f);

    /* read back: the same importances (the .dat has one ncall per entry: n_mat 1) */
    struct imatrix b, c;
    cr_assert_eq(imatrix_read(&b, dat), 0, "%s", ig_error_message());
    const float *x = imatrix_find(&b, "blk.0.ffn_up_exps.weight", 12);
    const float *y = imatrix_find(&im, "blk.0.ffn_up_exps.weight", 12);
    cr_assert(x && y);
    for (int i = 0; i < 12; i++)
        cr_expect_eq(x[i], y[i], "importance %d: %g vs %g", i, (double)x[i], (double)y[i]);
    cr_expect_eq(y[5], 1.0f, "an expert that saw no rows weighs every column by 1 (llama-quantize)");
    /* GGUF: every entry kept, counts per expert, a warning naming the idle experts */
    cr_assert_eq(imatrix_read(&c, gg), 0, "%s", ig_error_message());
    cr_expect_eq(c.n_entries, 3);
    cr_expect_eq(c.entries[0].n_mat, 3);
    cr_expect_eq(c.entries[0].counts[1], 0.0f);
    cr_expect_eq(memcmp(c.entries[0].importance, y, sizeof(float) * 12), 0);
    bool warned = false;
    for (int i = 0; i < c.n_warnings; i++)
        warned = warned || (strstr(c.warnings[i], "ffn_up_exps") && strstr(c.warnings[i], "1 of 3 experts (1)"));
    cr_expect(warned, "a warning names the expert that saw no rows");
    imatrix_free(&b);
    imatrix_free(&c);
    imatrix_free(&im);
}

/* Reading the model's own imatrix from both formats gives the same importances. */
Test(imatrix_moe, computed_stacks_round_trip_through_both_formats, .timeout = 60)
{
    const char *dir = make_mixtral("64", "128", "1");
    char text[4300], g[4300], d[4300];
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(g, sizeof g, "%s/i.gguf", dir);
    snprintf(d, sizeof d, "%s/i.dat", dir);
    struct test_run r;
    const char *a1[] = {"imatrix", dir, "--calib", text, "-o", g, "--ctx", "32", "--chunks", "5", "-q", NULL};
    const char *a2[] = {"imatrix", dir, "--calib", text, "-o", d, "--ctx", "32", "--chunks", "5", "--format", "dat",
                        "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    test_run_ingot(&r, a2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    struct imatrix a, b;
    cr_assert_eq(imatrix_read(&a, g), 0, "%s", ig_error_message());
    cr_assert_eq(imatrix_read(&b, d), 0, "%s", ig_error_message());
    cr_assert_eq(a.n_entries, b.n_entries);
    for (int64_t i = 0; i < a.n_entries; i++) {
        const struct imatrix_entry *e = &a.entries[i];
        const float *v = imatrix_find(&b, e->name, e->n);
        cr_assert(v, "%s", e->name);
        for (int64_t j = 0; j < e->n; j++)
            cr_expect_leq(fabsf(v[j] - e->importance[j]), 1e-6f * e->importance[j], "%s[%lld]", e->name, (long long)j);
    }
    imatrix_free(&a);
    imatrix_free(&b);
}

/* ---- (d) rtn --calib = imatrix --samples, then convert --imatrix; (e) threads ------------ */

static void expect_same_tensors(const char *x, const char *y)
{
    struct model_src *a, *b;
    cr_assert_eq(model_src_open(&a, x, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(model_src_open(&b, y, NULL), 0, "%s", ig_error_message());
    cr_assert_eq(a->n_tensors, b->n_tensors);
    int stacks = 0;
    for (int64_t i = 0; i < a->n_tensors; i++) {
        const struct src_tensor *s = &a->tensors[i], *t = model_src_find(b, s->name);
        cr_assert(t, "%s", s->name);
        cr_expect(s->type == t->type && s->size_bytes == t->size_bytes &&
                      memcmp(s->data, t->data, (size_t)s->size_bytes) == 0,
                  "%s differs", s->name);
        stacks += strstr(s->name, "_exps") != NULL;
    }
    cr_expect_eq(stacks, 3, "the stacks were compared");
    model_src_close(a);
    model_src_close(b);
}

Test(imatrix_moe, rtn_calib_equals_imatrix_then_convert, .timeout = 180)
{
    const char *dir = make_mixtral("64", "128", "1");
    char text[4300], imx[4300], a[4300], b[4300];
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(imx, sizeof imx, "%s/s.gguf", dir);
    snprintf(a, sizeof a, "%s/rtn.gguf", dir);
    snprintf(b, sizeof b, "%s/imx.gguf", dir);
    struct test_run r;
    const char *rtn[] = {"convert", dir, "-o", a, "--method", "rtn", "--type", "Q4_0", "--calib", text,
                         "--samples", "6", "--seq-len", "32", "-q", NULL};
    test_run_ingot(&r, rtn);
    cr_assert_eq(r.exit_code, 0, "mixtral's rtn --calib is no longer refused: %s", r.err);
    const char *ia[] = {"imatrix", dir, "--calib", text, "-o", imx, "--ctx", "32", "--samples", "6", "-q", NULL};
    test_run_ingot(&r, ia);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *ca[] = {"convert", dir, "-o", b, "--type", "Q4_0", "--imatrix", imx, "-q", NULL};
    test_run_ingot(&r, ca);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    expect_same_tensors(a, b);
}

Test(imatrix_moe, threads_do_not_change_the_bytes, .timeout = 120)
{
    const char *dir = make_mixtral("64", "128", "2");
    char text[4300], p1[4300], p3[4300];
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(p1, sizeof p1, "%s/t1.gguf", dir);
    snprintf(p3, sizeof p3, "%s/t3.gguf", dir);
    struct test_run r;
    const char *a1[] = {"imatrix", dir, "--calib", text, "-o", p1, "--ctx", "32", "--chunks", "5", "--threads", "1",
                        "--mem-budget", "1M", "-q", NULL};
    const char *a3[] = {"imatrix", dir, "--calib", text, "-o", p3, "--ctx", "32", "--chunks", "5", "--threads", "3",
                        "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    test_run_ingot(&r, a3);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    size_t n1, n3;
    uint8_t *f1 = test_read_file(p1, &n1), *f3 = test_read_file(p3, &n3);
    cr_assert(f1 && f3);
    cr_expect(n1 == n3 && memcmp(f1, f3, n1) == 0, "--threads 1 and 3 wrote different bytes");
    free(f1);
    free(f3);
}

/* ---- (f) a stack's entry of the wrong length: exit 2 naming the file and the entry -------- */

Test(imatrix_moe, a_stack_entry_of_the_wrong_length_is_refused, .timeout = 60)
{
    const char *dir = make_mixtral("64", "128", "1");
    char g[4300], d[4300], out[4300];
    snprintf(g, sizeof g, "%s/short.gguf", dir);
    snprintf(d, sizeof d, "%s/short.dat", dir);
    snprintf(out, sizeof out, "%s/o.gguf", dir);
    float sum2[64 * 4], counts[4] = {3, 3, 3, 3};
    for (int i = 0; i < 64 * 4; i++)
        sum2[i] = 1.0f + (float)i;
    for (int k = 0; k < 2; k++) {
        struct imatrix im = {0};
        im.chunk_size = 32;
        /* 3 experts' worth for a stack of 4; in the .dat, 64 values (one expert's) */
        if (k == 0)
            cr_assert_eq(imatrix_add_stack(&im, "blk.0.ffn_up_exps.weight", sum2, 64, 3, counts), 0);
        else
            cr_assert_eq(imatrix_add(&im, "blk.0.ffn_up_exps.weight", sum2, 64, 3), 0);
        cr_assert_eq(k == 0 ? imatrix_write_gguf(&im, g) : imatrix_write_dat(&im, d), 0, "%s", ig_error_message());
        imatrix_free(&im);
        const char *ca[] = {"convert", dir, "-o", out, "--type", "Q4_0", "--imatrix", k == 0 ? g : d, "-q", NULL};
        struct test_run r;
        test_run_ingot(&r, ca);
        cr_expect_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
        cr_expect(strstr(r.err, k == 0 ? "short.gguf" : "short.dat") && strstr(r.err, "blk.0.ffn_up_exps.weight") &&
                      strstr(r.err, "256 values"),
                  "%s", r.err);
        size_t size;
        uint8_t *f = test_read_file(out, &size);
        cr_expect_null(f, "no output file");
        free(f);
    }
}

/* Experts the router never chose on the text (8 experts, 1 per token, 8 tokens): `ingot
 * imatrix` says so; the GGUF keeps them with count 0, the .dat stores 1 · ncall, and both
 * convert to the same bytes (importance 1 for those experts, as llama-quantize reads either). */
Test(imatrix_moe, idle_experts_are_named_and_weighted_by_one, .timeout = 60)
{
    static char dir[4200];
    snprintf(dir, sizeof dir, "%s/m8", test_tmp_dir());
    struct test_run r;
    const char *synth[] = {"synth", "--arch", "mixtral", "--experts", "8", "--experts-used", "1", "-o", dir, "--dim",
                           "64", "--layers", "1", "--heads", "4", "--kv-heads", "2", "--ff", "128", "--corpus-lines",
                           "50", NULL};
    test_run_ingot(&r, synth);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    char text[4300], g[4300], d[4300], qg[4300], qd[4300];
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    snprintf(g, sizeof g, "%s/i.gguf", dir);
    snprintf(d, sizeof d, "%s/i.dat", dir);
    snprintf(qg, sizeof qg, "%s/qg.gguf", dir);
    snprintf(qd, sizeof qd, "%s/qd.gguf", dir);
    const char *a1[] = {"imatrix", dir, "--calib", text, "-o", g, "--ctx", "8", "--chunks", "1", "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "'blk.0.ffn_up_exps.weight'") && strstr(r.err, "experts saw no rows") &&
                  strstr(r.err, "count 0"),
              "%s", r.err);
    const char *a2[] = {"imatrix", dir, "--calib", text, "-o", d, "--ctx", "8", "--chunks", "1", "--format", "dat",
                        "-q", NULL};
    test_run_ingot(&r, a2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "stored as 1"), "%s", r.err);
    struct imatrix im;
    cr_assert_eq(imatrix_read(&im, g), 0, "%s", ig_error_message());
    int64_t idle = 0;
    for (int64_t i = 0; i < im.n_entries; i++)
        if (strcmp(im.entries[i].name, "blk.0.ffn_down_exps.weight") == 0)
            for (int64_t e = 0; e < 8; e++)
                if (im.entries[i].counts[e] == 0) {
                    idle++;
                    cr_expect_eq(im.entries[i].importance[e * 128 + 5], 1.0f);
                }
    cr_expect_gt(idle, 0, "8 tokens, one expert each: some of the 8 experts are idle");
    imatrix_free(&im);
    const char *c1[] = {"convert", dir, "-o", qg, "--type", "Q4_0", "--imatrix", g, "-q", NULL};
    const char *c2[] = {"convert", dir, "-o", qd, "--type", "Q4_0", "--imatrix", d, "-q", NULL};
    test_run_ingot(&r, c1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.err, "saw no rows; their importance is 1"), "convert repeats the reader's warning: %s", r.err);
    test_run_ingot(&r, c2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    expect_same_tensors(qg, qd);
}
