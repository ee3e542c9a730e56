/* test_inspect_tensor.c — `ingot inspect FILE|FOLDER --tensor NAME [--dump-f32 OUT]`.
 *
 * Golden values come from outside ingot's C code:
 *   - tests/data/inspect/goldens.txt: numpy, run once by tests/data/inspect/make_goldens.py
 *     (its own GGUF parser and Q4_K / Q8_0 / F16 dequantizers, safetensors read from the JSON
 *     header) on llama.cpp's tl3m GGUFs and the tl3m / TinyStories-656K HF checkpoints: an
 *     FNV-1a-64 of all the values as f32 bytes, min, max, mean, std (numpy, ddof 0), zeros;
 *   - the anamnesis GGUF slices in shared/data/thirdparty (raw blocks of real published files with
 *     gguf-py's dequantized f32 beside them), wrapped here into GGUFs with no metadata at all;
 *   - llama.cpp's own conversion tl3m-F16.gguf, for the GGUF name asked of the HF folder;
 *   - hand calculations for crafted tensors with NaN, Inf and zero blocks, and for integer dtypes.
 * Errors must exit 2 with a message naming the file and the tensor, and leave no output file.
 */
#include "../test_util.h"

#include "formats/ggml_type.h"
#include "quantizers/quant_type.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building files ---------------------------------------------------------------------------- */

struct buf {
    uint8_t *b;
    size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 1024;
        b->b = realloc(b->b, b->cap);
        cr_assert_not_null(b->b);
    }
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void put_u32(struct buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(struct buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(struct buf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void pad(struct buf *b, size_t align)
{
    while (b->n % align)
        put(b, "", 1);
}

struct gt {
    const char *name;
    int type;
    int64_t ne0, ne1;
    const void *data;
    size_t size_bytes;
};

/* A GGUF v3 file with n tensors and, when arch is not NULL, one key general.architecture. */
static const char *write_gguf(const char *folder, const char *file, const char *arch, const struct gt *t, int n)
{
    static char paths[8][4200];
    static int next;
    char *path = paths[next++ % 8];
    struct buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, (uint64_t)n);
    put_u64(&b, arch ? 1 : 0);
    if (arch) {
        put_str(&b, "general.architecture");
        put_u32(&b, 8);
        put_str(&b, arch);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        put_str(&b, t[i].name);
        put_u32(&b, 2);
        put_u64(&b, (uint64_t)t[i].ne0);
        put_u64(&b, (uint64_t)t[i].ne1);
        put_u32(&b, (uint32_t)t[i].type);
        put_u64(&b, off);
        off += (t[i].size_bytes + 31) / 32 * 32;
    }
    pad(&b, 32);
    for (int i = 0; i < n; i++) {
        put(&b, t[i].data, t[i].size_bytes);
        pad(&b, 32);
    }
    snprintf(path, sizeof paths[0], "%s/%s", folder, file);
    cr_assert_eq(test_write_file(path, b.b, b.n), 0);
    free(b.b);
    return path;
}

struct stt {
    const char *name;
    const char *dtype;
    const char *shape;   /* JSON array text, "[2, 3]" */
    const void *data;
    size_t size_bytes;
};

/* A safetensors file: u64 header length, the JSON header, the data. */
static void write_safetensors(const char *path, const struct stt *t, int n)
{
    char head[4096] = "{";
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        snprintf(head + strlen(head), sizeof head - strlen(head),
                 "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}", i ? "," : "", t[i].name,
                 t[i].dtype, t[i].shape, off, off + t[i].size_bytes);
        off += t[i].size_bytes;
    }
    strcat(head, "}");
    struct buf b = {0};
    put_u64(&b, strlen(head));
    put(&b, head, strlen(head));
    for (int i = 0; i < n; i++)
        put(&b, t[i].data, t[i].size_bytes);
    cr_assert_eq(test_write_file(path, b.b, b.n), 0);
    free(b.b);
}

/* ---- running and reading back ---------------------------------------------------------------------- */

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* `ingot inspect path --tensor name --json [--dump-f32 dump]`: the parsed JSON (asserted). */
static json_t *inspect_json(const char *path, const char *name, const char *dump)
{
    struct test_run r;
    const char *argv[] = {"inspect", path, "--tensor", name, "--json", dump ? "--dump-f32" : NULL, dump, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "inspect %s --tensor %s: %s", path, name, r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    cr_assert_not_null(j, "JSON on stdout: %s (%s)", e.text, r.out);
    return j;
}

static double stat_of(json_t *j, const char *key)
{
    json_t *v = json_object_get(json_object_get(j, "stats"), key);
    return json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : NAN;
}

static float *read_f32(const char *path, size_t *n)
{
    size_t bytes = 0;
    float *x = (float *)test_read_file(path, &bytes);
    cr_assert_not_null(x, "%s was written", path);
    *n = bytes / 4;
    return x;
}

static bool near(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fabs(b) + 1e-300;
}

/* ---- goldens from numpy ------------------------------------------------------------------------ */

/* The cases make_goldens.py wrote, with where they come from. */
static const struct {
    const char *name, *rel, *tensor;
} golden_cases[] = {
    {"gguf-q4_k", "peers/tl3m/tl3m-Q4_K_M.gguf", "blk.0.attn_q.weight"},
    {"gguf-q8_0", "peers/tl3m/tl3m-Q8_0.gguf", "blk.1.ffn_down.weight"},
    {"gguf-f16", "peers/tl3m/tl3m-F16.gguf", "blk.3.attn_v.weight"},
    {"hf-f16", "tl3m", "model.layers.0.self_attn.q_proj.weight"},
    {"hf-f32", "hf-TinyStories-656K", "model.layers.1.mlp.gate_proj.weight"},
};

struct golden {
    uint64_t fnv;
    long long count, zeros;
    double min, max, mean, std;
};

static bool golden_read(const char *name, struct golden *g)
{
    char *text = (char *)test_read_file(test_fixture_path("inspect/goldens.txt"), NULL);
    cr_assert_not_null(text, "tests/data/inspect/goldens.txt");
    bool found = false;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        char case_name[64];
        unsigned long long fnv;
        if (sscanf(line, "%63s %llx %lld %lf %lf %lf %lf %lld", case_name, &fnv, &g->count, &g->min, &g->max, &g->mean,
                   &g->std, &g->zeros) == 8 &&
            strcmp(case_name, name) == 0) {
            g->fnv = fnv;
            found = true;
        }
    }
    free(text);
    return found;
}

static void check_golden(const char *name, const char *path, const char *tensor, const char *dump)
{
    struct golden g;
    cr_assert(golden_read(name, &g), "golden %s", name);
    json_t *j = inspect_json(path, tensor, dump);
    size_t n;
    float *x = read_f32(dump, &n);
    cr_expect_eq((long long)n, g.count, "%s: %zu values dumped, numpy has %lld", name, n, g.count);
    cr_expect_eq(fnv1a64((const uint8_t *)x, n * 4), g.fnv, "%s: the dumped bytes equal numpy's values", name);
    cr_expect_eq(stat_of(j, "count"), (double)g.count, "%s: count", name);
    /* min and max are f32 values; goldens.txt has them to 9 digits, which round-trip through f32 */
    cr_expect_eq((float)stat_of(j, "min"), (float)g.min, "%s: min %.9g vs numpy %.9g", name, stat_of(j, "min"), g.min);
    cr_expect_eq((float)stat_of(j, "max"), (float)g.max, "%s: max", name);
    /* mean and std: double sums in another order than numpy's pairwise ones; 1e-12 is ~1e4 ulps */
    cr_expect(near(stat_of(j, "mean"), g.mean, 1e-12), "%s: mean %.17g vs numpy %.17g", name, stat_of(j, "mean"),
              g.mean);
    cr_expect(near(stat_of(j, "std"), g.std, 1e-12), "%s: std %.17g vs numpy %.17g", name, stat_of(j, "std"), g.std);
    cr_expect_eq(stat_of(j, "zeros"), (double)g.zeros, "%s: zeros", name);
    cr_expect_eq(stat_of(j, "nan") + stat_of(j, "pos_inf") + stat_of(j, "neg_inf"), 0.0);
    free(x);
    json_decref(j);
}

Test(inspect_tensor, values_and_stats_match_numpy_on_tl3m_and_tinystories)
{
    const char *tmp = test_tmp_dir();
    for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++) {
        const char *path = test_shared_path(golden_cases[i].rel);
        if (!path)
            cr_skip_test("shared data %s is absent", golden_cases[i].rel);
        char dump[4200];
        snprintf(dump, sizeof dump, "%s/%s.f32", tmp, golden_cases[i].name);
        check_golden(golden_cases[i].name, path, golden_cases[i].tensor, dump);
    }
}

/* One shard alone in a folder, no config.json, no index: still found, same values. */
Test(inspect_tensor, partial_folder_with_one_file_and_no_config)
{
    const char *src = test_shared_path("tl3m/model.safetensors");
    if (!src)
        cr_skip_test("shared data tl3m is absent");
    const char *folder = test_tmp_dir();
    char link[4200], dump[4200];
    snprintf(link, sizeof link, "%s/model-00002-of-00005.safetensors", folder);
    cr_assert_eq(symlink(src, link), 0);
    snprintf(dump, sizeof dump, "%s/q.f32", test_tmp_dir());
    check_golden("hf-f16", folder, "model.layers.0.self_attn.q_proj.weight", dump);
    json_t *j = inspect_json(link, "model.layers.0.self_attn.q_proj.weight", NULL);
    cr_expect_str_eq(json_string_value(json_object_get(j, "container")), "safetensors", "a .safetensors file too");
    cr_expect_str_eq(json_string_value(json_object_get(j, "shape_order")), "pytorch");
    json_decref(j);
}

/* A GGUF name asked of the whole HF folder gives the tensor as convert writes it: the same
 * values as llama.cpp's own conversion (Q/K rows permuted), and says so. */
Test(inspect_tensor, gguf_name_on_hf_folder_gives_llama_cpp_layout)
{
    const char *hf = test_shared_path("tl3m"), *gguf = test_shared_path("peers/tl3m/tl3m-F16.gguf");
    if (!hf || !gguf)
        cr_skip_test("shared data tl3m is absent");
    const char *tmp = test_tmp_dir();
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/hf.f32", tmp);
    snprintf(b, sizeof b, "%s/llama.f32", tmp);
    json_t *ja = inspect_json(hf, "blk.0.attn_q.weight", a);
    json_t *jb = inspect_json(gguf, "blk.0.attn_q.weight", b);
    size_t na, nb;
    float *xa = read_f32(a, &na), *xb = read_f32(b, &nb);
    cr_assert_eq(na, nb);
    cr_expect_eq(memcmp(xa, xb, na * 4), 0, "HF folder under its GGUF name == llama.cpp's F16 conversion");
    const char *layout = json_string_value(json_object_get(ja, "layout"));
    cr_expect(layout && strstr(layout, "GGUF") && strstr(layout, "permuted"), "the layout is named: %s", layout);
    cr_expect_str_eq(json_string_value(json_object_get(ja, "source_name")), "model.layers.0.self_attn.q_proj.weight");
    free(xa);
    free(xb);
    json_decref(ja);
    json_decref(jb);
}

/* ---- real GGUF slices with gguf-py's values ------------------------------------------------------ */

/* anamnesis "AMNG" v2: magic, u32 version, ggml_type, n_elements, raw_len, bf16_len, f32_len,
 * then the raw blocks, the BF16 golden and the F32 golden (shared/data/thirdparty/PROVENANCE.md). */
Test(inspect_tensor, real_gguf_slices_match_gguf_py_or_exit_2)
{
    static const char *const files[] = {
        "smollm2_q4_0.bin", "smollm2_q4_1.bin", "smollm2_q8_0.bin",   "smollm2_q5_1.bin",     "smollm2_iq4_nl.bin",
        "smollm2_q3_k.bin", "smollm2_q4_k.bin", "smollm2_q5_k.bin",   "smollm2_q6_k.bin",     "smollm2_iq4_xs.bin",
        "tinyllama_q5_0.bin", "tinyllama_q2_k.bin", "mistral_7b_iq2_xxs.bin", "mistral_7b_iq3_xxs.bin",
        "synthetic_tq1_0.bin", "synthetic_tq2_0.bin", "synthetic_mxfp4.bin",
    };
    const char *tmp = test_tmp_dir();
    int n_exact = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "thirdparty/anamnesis-fixtures/gguf_reference/%s", files[i]);
        const char *path = test_shared_path(rel);
        if (!path)
            cr_skip_test("shared data %s is absent", rel);
        size_t size;
        uint8_t *f = test_read_file(path, &size);
        cr_assert(f && size > 28 && memcmp(f, "AMNG", 4) == 0, "%s", rel);
        uint32_t h[6];
        memcpy(h, f + 4, sizeof h);
        cr_assert(h[2] == 65536 && 28 + (size_t)h[3] + h[4] + h[5] == size && h[5] == 4 * 65536, "%s header", rel);
        struct gt t = {"slice.weight", (int)h[1], 256, 256, f + 28, h[3]};
        char name[300], dump[4300];
        snprintf(name, sizeof name, "%s.gguf", files[i]);
        const char *gguf = write_gguf(tmp, name, NULL, &t, 1);
        snprintf(dump, sizeof dump, "%s/%s.f32", tmp, files[i]);
        const struct quant_type *qt = quant_type_get((int)h[1]);
        struct test_run r;
        const char *argv[] = {"inspect", gguf, "--tensor", "slice.weight", "--dump-f32", dump, NULL};
        test_run_ingot(&r, argv);
        if (qt && qt->dequantize_row_ref) {
            cr_expect_eq(r.exit_code, 0, "%s: %s", files[i], r.err);
            size_t n = 0;
            uint8_t *x = test_read_file(dump, &n);
            cr_expect(x && n == 4 * 65536 && memcmp(x, f + 28 + h[3] + h[4], n) == 0,
                      "%s (%s): the dump equals gguf-py's dequantized values bit for bit", files[i], qt->name);
            n_exact += x && n == 4 * 65536 && memcmp(x, f + 28 + h[3] + h[4], n) == 0;
            free(x);
        } else {
            /* a type this build has no dequantizer for (or no id for): refused, named, no file */
            char id[32];
            snprintf(id, sizeof id, "id %u", h[1]);
            cr_expect_eq(r.exit_code, 2, "%s: %s", files[i], r.err);
            cr_expect(strstr(r.err, "slice.weight") && strstr(r.err, id), "%s: names tensor and %s: %s", files[i], id,
                      r.err);
            cr_expect_neq(access(dump, F_OK), 0, "%s: no dump written", files[i]);
        }
        free(f);
    }
    cr_expect_geq(n_exact, 11, "every type ingot had before the IQ work is exact (%d)", n_exact);
}

/* ---- hand-computed statistics -------------------------------------------------------------------- */

/* F32 [3][4], in a GGUF of an architecture ingot does not know:
 *   row 0:  0    0    -0    0     all zero: a zero block (a block is a row for F32)
 *   row 1:  1    NaN  +Inf  3
 *   row 2:  -Inf 2    0     -2
 * finite: 9 values, sum 4, sum of squares 18: mean 4/9, variance 18/9 - 16/81 = 146/81. */
Test(inspect_tensor, f32_stats_with_nan_inf_and_a_zero_row)
{
    float x[12] = {0, 0, -0.0f, 0, 1, NAN, INFINITY, 3, -INFINITY, 2, 0, -2};
    const char *tmp = test_tmp_dir();
    struct gt t = {"v.proj.weight", 0, 4, 3, x, sizeof x};
    const char *gguf = write_gguf(tmp, "clip.gguf", "clip", &t, 1);
    char dump[4200];
    snprintf(dump, sizeof dump, "%s/v.f32", tmp);
    json_t *j = inspect_json(gguf, "v.proj.weight", dump);
    cr_expect_eq(stat_of(j, "count"), 12);
    cr_expect_eq(stat_of(j, "finite"), 9);
    cr_expect_eq(stat_of(j, "nan"), 1);
    cr_expect_eq(stat_of(j, "pos_inf"), 1);
    cr_expect_eq(stat_of(j, "neg_inf"), 1);
    cr_expect_eq(stat_of(j, "zeros"), 5);
    cr_expect_eq(stat_of(j, "min"), -2);
    cr_expect_eq(stat_of(j, "max"), 3);
    cr_expect(near(stat_of(j, "mean"), 4.0 / 9, 1e-15), "mean %.17g", stat_of(j, "mean"));
    cr_expect(near(stat_of(j, "std"), sqrt(146.0) / 9, 1e-15), "std %.17g", stat_of(j, "std"));
    cr_expect_eq(stat_of(j, "zero_blocks"), 1);
    cr_expect_eq(stat_of(j, "blocks"), 3);
    cr_expect_eq(stat_of(j, "block_elems"), 4);
    size_t n;
    float *y = read_f32(dump, &n);
    cr_expect_eq(n, 12);
    cr_expect_eq(memcmp(y, x, sizeof x), 0, "F32 values come back bit for bit (NaN, -0 included)");
    free(y);
    json_decref(j);
}

/* Q8_0 [2][64]: four blocks of 32 (d as f16, then 32 int8 codes; value = d * q):
 *   block 0: d 0.5, q = i - 16   -> -8, -7.5, ..., 7.5 (one 0): sum -8, sum of squares 684
 *   block 1: d 0,   q = 5        -> all 0: a zero block
 *   block 2: d 2,   q = 0        -> all 0: a zero block
 *   block 3: d NaN, q = 1        -> 32 NaN
 * finite 96: mean -8/96, variance 684/96 - (1/12)^2; zeros 1 + 32 + 32 = 65. */
Test(inspect_tensor, q8_0_stats_count_zero_blocks_and_nan)
{
    uint8_t blocks[4][34];
    const uint16_t d[4] = {0x3800, 0x0000, 0x4000, 0x7e00};
    for (int b = 0; b < 4; b++) {
        memcpy(blocks[b], &d[b], 2);
        for (int i = 0; i < 32; i++)
            blocks[b][2 + i] = (uint8_t)(int8_t)(b == 0 ? i - 16 : b == 1 ? 5 : b == 2 ? 0 : 1);
    }
    const char *tmp = test_tmp_dir();
    struct gt t = {"q.weight", 8, 64, 2, blocks, sizeof blocks};
    const char *gguf = write_gguf(tmp, "q8.gguf", NULL, &t, 1);
    json_t *j = inspect_json(gguf, "q.weight", NULL);
    cr_expect_eq(stat_of(j, "count"), 128);
    cr_expect_eq(stat_of(j, "nan"), 32);
    cr_expect_eq(stat_of(j, "finite"), 96);
    cr_expect_eq(stat_of(j, "zeros"), 65);
    cr_expect_eq(stat_of(j, "min"), -8);
    cr_expect_eq(stat_of(j, "max"), 7.5);
    cr_expect(near(stat_of(j, "mean"), -8.0 / 96, 1e-15), "mean %.17g", stat_of(j, "mean"));
    cr_expect(near(stat_of(j, "std"), sqrt(684.0 / 96 - 1.0 / 144), 1e-14), "std %.17g", stat_of(j, "std"));
    cr_expect_eq(stat_of(j, "zero_blocks"), 2);
    cr_expect_eq(stat_of(j, "blocks"), 4);
    cr_expect_eq(stat_of(j, "block_elems"), 32);
    cr_expect_str_eq(json_string_value(json_object_get(j, "type")), "Q8_0");
    json_decref(j);
}

/* The text output carries the same figures. */
Test(inspect_tensor, text_output_names_type_shape_layout_and_stats)
{
    float x[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    const char *tmp = test_tmp_dir();
    struct gt t = {"n.weight", 0, 4, 2, x, sizeof x};
    const char *gguf = write_gguf(tmp, "n.gguf", NULL, &t, 1);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "n.weight", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "type: F32 (id 0)"), "%s", r.out);
    cr_expect(strstr(r.out, "shape: 4 x 2 (ggml order"), "%s", r.out);
    cr_expect(strstr(r.out, "ne[0] fastest: 2 rows of 4"), "%s", r.out);
    cr_expect(strstr(r.out, "max   4\n"), "%s", r.out);
    cr_expect(strstr(r.out, "mean  1.25\n"), "%s", r.out);
    cr_expect(strstr(r.out, "zero blocks 1 of 2 (block: whole rows of 4"), "%s", r.out);
}

/* ---- integer dtypes of third-party checkpoints ------------------------------------------------------ */

Test(inspect_tensor, integer_dtypes_dump_their_values_as_f32)
{
    const int32_t i32[6] = {1, -2, 16777217, 0, 2147483647, -5};
    const uint8_t u8[4] = {0, 255, 7, 128};
    const int8_t i8[4] = {-128, 127, 0, -1};
    const struct stt t[3] = {
        {"model.layers.0.mlp.down_proj.qweight", "I32", "[2, 3]", i32, sizeof i32},
        {"model.layers.0.mlp.down_proj.weight", "U8", "[4]", u8, sizeof u8},
        {"model.layers.0.mlp.down_proj.SCB", "I8", "[2, 2]", i8, sizeof i8},
    };
    const char *folder = test_tmp_dir();
    char path[4200], dump[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    write_safetensors(path, t, 3);
    snprintf(dump, sizeof dump, "%s/d.f32", test_tmp_dir());

    json_t *j = inspect_json(folder, "model.layers.0.mlp.down_proj.qweight", dump);
    size_t n;
    float *x = read_f32(dump, &n);
    /* 2^24 + 1 and 2^31 - 1 have no f32: they round to 2^24 and 2^31, and are counted */
    const float want[6] = {1, -2, 16777216.0f, 0, 2147483648.0f, -5};
    cr_expect(n == 6 && memcmp(x, want, sizeof want) == 0, "I32 values as f32");
    cr_expect_eq(stat_of(j, "inexact"), 2);
    cr_expect_str_eq(json_string_value(json_object_get(j, "dtype")), "I32");
    cr_expect(strstr(json_string_value(json_object_get(j, "values")), "converted"), "says how the values were made");
    free(x);
    json_decref(j);

    j = inspect_json(folder, "model.layers.0.mlp.down_proj.weight", dump);
    x = read_f32(dump, &n);
    cr_expect(n == 4 && x[0] == 0 && x[1] == 255 && x[2] == 7 && x[3] == 128, "U8 read unsigned");
    cr_expect_eq(stat_of(j, "inexact"), 0);
    free(x);
    json_decref(j);

    j = inspect_json(folder, "model.layers.0.mlp.down_proj.SCB", dump);
    x = read_f32(dump, &n);
    cr_expect(n == 4 && x[0] == -128 && x[1] == 127 && x[2] == 0 && x[3] == -1, "I8 read signed");
    cr_expect_eq(stat_of(j, "zero_blocks"), 0, "rows [-128, 127] and [0, -1]");
    cr_expect_eq(stat_of(j, "blocks"), 2);
    free(x);
    json_decref(j);
}

/* ---- sharded folders ----------------------------------------------------------------------------- */

/* Shards 1 and 3 of 3 with the index: a tensor of shard 3 is found; one of the missing shard 2
 * is reported with the file the index names. */
Test(inspect_tensor, sharded_folder_missing_a_shard)
{
    const float a[4] = {1, 2, 3, 4};
    const uint16_t c[3] = {0x3800, 0xbc00, 0x4000};   /* F16 0.5, -1, 2 */
    const struct stt s1 = {"a.weight", "F32", "[2, 2]", a, sizeof a}, s3 = {"c.weight", "F16", "[3]", c, sizeof c};
    const char *folder = test_tmp_dir();
    char path[4200], dump[4200];
    snprintf(path, sizeof path, "%s/model-00001-of-00003.safetensors", folder);
    write_safetensors(path, &s1, 1);
    snprintf(path, sizeof path, "%s/model-00003-of-00003.safetensors", folder);
    write_safetensors(path, &s3, 1);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", folder);
    const char *index = "{\"metadata\": {}, \"weight_map\": {\"a.weight\": \"model-00001-of-00003.safetensors\", "
                        "\"b.weight\": \"model-00002-of-00003.safetensors\", \"c.weight\": "
                        "\"model-00003-of-00003.safetensors\"}}";
    cr_assert_eq(test_write_file(path, index, strlen(index)), 0);
    snprintf(dump, sizeof dump, "%s/c.f32", test_tmp_dir());

    json_t *j = inspect_json(folder, "c.weight", dump);
    size_t n;
    float *x = read_f32(dump, &n);
    cr_expect(n == 3 && x[0] == 0.5f && x[1] == -1 && x[2] == 2, "F16 values of shard 3");
    cr_expect(strstr(json_string_value(json_object_get(j, "file")), "model-00003-of-00003"));
    free(x);
    json_decref(j);

    struct test_run r;
    const char *argv[] = {"inspect", folder, "--tensor", "b.weight", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "'b.weight'") && strstr(r.err, "model-00002-of-00003.safetensors") &&
              strstr(r.err, "not in this folder"), "names the missing shard: %s", r.err);
}

/* ---- errors --------------------------------------------------------------------------------------- */

Test(inspect_tensor, unknown_name_exits_2_with_close_names)
{
    float x[4] = {1, 2, 3, 4};
    const char *tmp = test_tmp_dir();
    struct gt t[3] = {{"blk.0.attn_q.weight", 0, 4, 1, x, sizeof x},
                      {"blk.0.attn_k.weight", 0, 4, 1, x, sizeof x},
                      {"output_norm.weight", 0, 4, 1, x, sizeof x}};
    const char *gguf = write_gguf(tmp, "m.gguf", "llama", t, 3);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "blk.0.attn_qq.weight", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, gguf) && strstr(r.err, "no tensor named 'blk.0.attn_qq.weight'"), "%s", r.err);
    cr_expect(strstr(r.err, "closest: 'blk.0.attn_q.weight', 'blk.0.attn_k.weight'"), "%s", r.err);
    cr_expect_eq(r.out[0], '\0', "nothing on stdout");

    const char *argv_hf[] = {"inspect", gguf, "--tensor", "model.layers.0.self_attn.q_proj.weight", NULL};
    test_run_ingot(&r, argv_hf);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "this is an HF name"), "a hint for the other naming: %s", r.err);
}

Test(inspect_tensor, unknown_type_id_exits_2_naming_tensor_and_id)
{
    uint8_t raw[64] = {0};
    const char *tmp = test_tmp_dir();
    struct gt t = {"odd.weight", 77, 16, 1, raw, sizeof raw};
    const char *gguf = write_gguf(tmp, "odd.gguf", NULL, &t, 1);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "odd.weight", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "odd.weight") && strstr(r.err, "type id 77"), "%s", r.err);
}

/* Q8_1 (id 9) has a ggml geometry but no dequantizer in ggml's CPU type traits, nor in ingot. */
Test(inspect_tensor, type_without_dequantizer_exits_2_and_writes_nothing)
{
    const struct quant_type *qt = quant_type_get(GGML_TYPE_Q8_1);
    if (qt && qt->dequantize_row_ref)
        cr_skip_test("this build dequantizes Q8_1: pick another type for this test");
    uint8_t raw[36] = {0};
    const char *tmp = test_tmp_dir();
    struct gt t = {"q81.weight", GGML_TYPE_Q8_1, 32, 1, raw, sizeof raw};
    const char *gguf = write_gguf(tmp, "q81.gguf", NULL, &t, 1);
    char dump[4200];
    snprintf(dump, sizeof dump, "%s/out.f32", tmp);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "q81.weight", "--dump-f32", dump, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "q81.weight") && strstr(r.err, "Q8_1 (id 9)") && strstr(r.err, "cannot be dequantized"),
              "%s", r.err);
    cr_expect_eq(test_count_entries(tmp), 1, "only the GGUF: no dump, no temporary");
}

Test(inspect_tensor, dump_refuses_the_input_as_output)
{
    float x[4] = {1, 2, 3, 4};
    const char *tmp = test_tmp_dir();
    struct gt t = {"w", 0, 4, 1, x, sizeof x};
    const char *gguf = write_gguf(tmp, "w.gguf", NULL, &t, 1);
    size_t before = 0, after = 0;
    uint8_t *a = test_read_file(gguf, &before);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "w", "--dump-f32", gguf, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "output is the input file"), "%s", r.err);
    uint8_t *b = test_read_file(gguf, &after);
    cr_expect(b && before == after && memcmp(a, b, before) == 0, "the input is untouched");
    free(a);
    free(b);

    const char *argv2[] = {"inspect", gguf, "--dump-f32", "x.f32", NULL};
    test_run_ingot(&r, argv2);
    cr_expect_eq(r.exit_code, 2, "--dump-f32 without --tensor is a usage error");
    cr_expect(strstr(r.err, "--dump-f32 needs --tensor"), "%s", r.err);
}

/* A dump cut short (here by the file size limit, SIGXFSZ) leaves the old OUT as it was and
 * no temporary beside it. */
Test(inspect_tensor, failed_dump_leaves_old_output_and_no_partial_file)
{
    static float x[4096];
    for (int i = 0; i < 4096; i++)
        x[i] = (float)i;
    const char *in = test_tmp_dir(), *out_dir = test_tmp_dir();
    struct gt t = {"big.weight", 0, 64, 64, x, sizeof x};
    const char *gguf = write_gguf(in, "big.gguf", NULL, &t, 1);
    char out[4200];
    snprintf(out, sizeof out, "%s/big.f32", out_dir);
    cr_assert_eq(test_write_file(out, "old", 3), 0);
    struct rlimit old, lim = {4096, 4096};
    getrlimit(RLIMIT_FSIZE, &old);
    lim.rlim_max = old.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "big.weight", "--dump-f32", out, NULL};
    test_run_ingot(&r, argv);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_expect_neq(r.exit_code, 0, "a 16 KiB dump under a 4 KiB limit fails");
    size_t n = 0;
    char *text = (char *)test_read_file(out, &n);
    cr_expect(text && n == 3 && memcmp(text, "old", 3) == 0, "OUT keeps its old bytes");
    cr_expect_eq(test_count_entries(out_dir), 1, "no temporary left beside OUT");
    free(text);
}

/* ---- determinism and JSON ---------------------------------------------------------------------------- */

/* Same JSON and same dump with 1 and 2 threads (the dequantizer runs rows in parallel). */
Test(inspect_tensor, same_output_whatever_the_thread_count)
{
    const char *path = test_shared_path("peers/tl3m/tl3m-Q4_K_M.gguf");
    if (!path)
        cr_skip_test("shared data tl3m is absent");
    const char *tmp = test_tmp_dir();
    char d1[4200], d2[4200];
    snprintf(d1, sizeof d1, "%s/1.f32", tmp);
    snprintf(d2, sizeof d2, "%s/2.f32", tmp);
    struct test_run r1, r2;
    setenv("OMP_NUM_THREADS", "1", 1);
    const char *a1[] = {"inspect", path, "--tensor", "blk.0.ffn_down.weight", "--json", "--dump-f32", d1, NULL};
    test_run_ingot(&r1, a1);
    setenv("OMP_NUM_THREADS", "2", 1);
    const char *a2[] = {"inspect", path, "--tensor", "blk.0.ffn_down.weight", "--json", "--dump-f32", d2, NULL};
    test_run_ingot(&r2, a2);
    unsetenv("OMP_NUM_THREADS");
    cr_assert_eq(r1.exit_code, 0, "%s", r1.err);
    cr_assert_eq(r2.exit_code, 0, "%s", r2.err);
    /* the JSON names the dump path, which differs: compare the stats objects */
    json_t *j1 = json_loads(r1.out, 0, NULL), *j2 = json_loads(r2.out, 0, NULL);
    cr_assert(j1 && j2);
    cr_expect(json_equal(json_object_get(j1, "stats"), json_object_get(j2, "stats")), "same figures");
    size_t n1, n2;
    uint8_t *b1 = test_read_file(d1, &n1), *b2 = test_read_file(d2, &n2);
    cr_expect(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "same dump");
    free(b1);
    free(b2);
    json_decref(j1);
    json_decref(j2);
}

Test(inspect_tensor, json_out_writes_the_document_and_text_still_prints)
{
    float x[4] = {1, 2, 3, 4};
    const char *tmp = test_tmp_dir();
    struct gt t = {"w", 0, 4, 1, x, sizeof x};
    const char *gguf = write_gguf(tmp, "w.gguf", NULL, &t, 1);
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s/w.json", tmp);
    struct test_run r;
    const char *argv[] = {"inspect", gguf, "--tensor", "w", "--json-out", jpath, NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect(strstr(r.out, "tensor: w\n"), "text on stdout: %s", r.out);
    json_t *j = json_load_file(jpath, 0, NULL);
    cr_assert_not_null(j);
    cr_expect_str_eq(json_string_value(json_object_get(j, "tensor")), "w");
    cr_expect_eq(json_integer_value(json_object_get(j, "type_id")), 0);
    cr_expect_eq(json_array_size(json_object_get(j, "shape")), 2, "ne[0], ne[1] as the file has them");
    cr_expect(json_is_null(json_object_get(j, "dump")));
    cr_expect_eq(stat_of(j, "mean"), 2.5);
    json_decref(j);
}
