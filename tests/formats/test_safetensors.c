/* test_safetensors.c — the safetensors reader: the tiny fixture against its generator, the
 * shared tl3m (F16) and TinyStories-656K (F32, tied) checkpoints, a sharded copy of the
 * tiny fixture written here, folder resolution, and one test per kind of hostile header,
 * each checking IG_EINVAL and that the message names the file and the field. The
 * bad_catalogue test runs tests/data/bad/safetensors.tsv through st_open directly.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/ggml_type.h"
#include "formats/safetensors.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------ */

#define TINY_N_TENSORS 12
#define SHARD_A "model-00001-of-00002.safetensors"
#define SHARD_B "model-00002-of-00002.safetensors"

static struct st_model *open_ok(const char *path)
{
    struct st_model *st = NULL;
    ig_error_clear();
    int rc = st_open(&st, path);
    cr_assert_eq(rc, 0, "st_open(%s) = %d: %s", path, rc, ig_error_message());
    cr_assert_not_null(st);
    return st;
}

/* Expect IG_EINVAL, *out left NULL, and every needle in the message. */
static void expect_einval(const char *path, const char *const *needles)
{
    struct st_model *st = (struct st_model *)&st;   /* any non-NULL value: must be cleared */
    ig_error_clear();
    int rc = st_open(&st, path);
    const char *msg = ig_error_message();
    cr_expect_eq(rc, IG_EINVAL, "st_open(%s) = %d, expected IG_EINVAL; message: %s", path, rc, msg);
    cr_expect_null(st, "*out must be NULL on failure");
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(msg, needles[i]) != NULL, "message \"%s\" lacks \"%s\"", msg, needles[i]);
    if (rc == 0)
        st_close(st);
}

/* Write a file of a u64 header length n_header, the header text, then data_len bytes. */
static const char *write_st_len(const char *header, uint64_t n_header, size_t data_len)
{
    const char *dir = test_tmp_dir();
    cr_assert_not_null(dir);
    static char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n_text = strlen(header);
    size_t size = 8 + n_text + data_len;
    uint8_t *buf = calloc(1, size);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(n_header >> (8 * i));
    memcpy(buf + 8, header, n_text);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + n_text + i] = (uint8_t)(i * 7 + 1);
    cr_assert_eq(test_write_file(path, buf, size), 0);
    free(buf);
    return path;
}

static const char *write_st(const char *header, size_t data_len)
{
    return write_st_len(header, strlen(header), data_len);
}

static void remove_folder(const char *dir);

/* Write header + data_len bytes and expect st_open to reject it naming the file and needles. */
static void expect_rejected(const char *header, size_t data_len, const char *const *needles)
{
    char dir[4096];
    const char *path = write_st(header, data_len);
    expect_einval(path, (const char *[]){"safetensors: ", path, NULL});
    expect_einval(path, needles);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    remove_folder(dir);
}

static float f32_at(const struct st_tensor *t, int64_t i)
{
    float v;
    memcpy(&v, t->data + 4 * i, sizeof v);   /* data may be unaligned */
    return v;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Remove a flat temp folder written by a test. */
static void remove_folder(const char *dir)
{
    char path[4096];
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* ---- writing sharded checkpoints ---------------------------------------------------- */

/* Write ts[0..n) packed in order into dir/file, with __metadata__ {"format": format}. */
static void shard_write(const char *dir, const char *file, const struct st_tensor *const *ts, int n,
                        const char *format)
{
    char path[4096];
    json_t *h = json_object();
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array();
        for (int d = 0; d < ts[i]->n_dims; d++)
            json_array_append_new(shape, json_integer(ts[i]->shape[d]));
        json_object_set_new(h, ts[i]->name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype", ggml_type_name(ts[i]->type),
                                      "shape", shape, "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + ts[i]->size_bytes)));
        off += ts[i]->size_bytes;
    }
    json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", format));
    char *text = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_not_null(text);
    size_t n_text = strlen(text), size = 8 + n_text + off;
    uint8_t *buf = malloc(size);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)n_text >> (8 * i));
    memcpy(buf + 8, text, n_text);
    off = 8 + n_text;
    for (int i = 0; i < n; i++) {
        memcpy(buf + off, ts[i]->data, ts[i]->size_bytes);
        off += ts[i]->size_bytes;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cr_assert_eq(test_write_file(path, buf, size), 0);
    free(buf);
    free(text);
    json_decref(h);
}

/* Write dir/model.safetensors.index.json mapping names[i] -> files[i]. */
static void index_write(const char *dir, const char *const *names, const char *const *files, int n)
{
    char path[4096];
    json_t *wm = json_object();
    for (int i = 0; i < n; i++)
        json_object_set_new(wm, names[i], json_string(files[i]));
    json_t *root = json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)107648,
                             "weight_map", wm);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    cr_assert_eq(json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    json_decref(root);
}

/* Split the tiny fixture (sorted by name) into two shards: odd positions go to SHARD_A and
 * even ones, among them lm_head.weight (the first name), to SHARD_B, so first-named order
 * (B, A) differs from file-name order. drop names a tensor listed in the index but left out
 * of its shard; extra names one written into both shards but mapped only to its own. */
static struct st_model *sharded_write(const char *dir, const char *drop, const char *extra)
{
    struct st_model *src = open_ok(test_fixture_path("tiny-llama/model.safetensors"));
    const struct st_tensor *a[TINY_N_TENSORS + 1], *b[TINY_N_TENSORS + 1];
    const char *names[TINY_N_TENSORS], *files[TINY_N_TENSORS];
    int n_a = 0, n_b = 0;
    cr_assert_eq(st_n_tensors(src), TINY_N_TENSORS);
    for (int i = 0; i < TINY_N_TENSORS; i++) {
        const struct st_tensor *t = st_tensor_at(src, i);
        names[i] = t->name;
        files[i] = i % 2 ? SHARD_A : SHARD_B;
        if (drop && strcmp(t->name, drop) == 0)
            continue;
        if (i % 2)
            a[n_a++] = t;
        else
            b[n_b++] = t;
        if (extra && strcmp(t->name, extra) == 0) {
            if (i % 2)
                b[n_b++] = t;
            else
                a[n_a++] = t;
        }
    }
    shard_write(dir, SHARD_A, a, n_a, "pt-a");
    shard_write(dir, SHARD_B, b, n_b, "pt-b");
    index_write(dir, names, files, TINY_N_TENSORS);
    return src;
}

/* Expect every tensor of src in st with the same type, shape and bytes. */
static void expect_same_tensors(const struct st_model *src, const struct st_model *st)
{
    cr_expect_eq(st_n_tensors(st), st_n_tensors(src));
    for (int64_t i = 0; i < st_n_tensors(src); i++) {
        const struct st_tensor *s = st_tensor_at(src, i);
        const struct st_tensor *t = st_find(st, s->name);
        cr_expect_not_null(t, "tensor '%s' missing from the sharded copy", s->name);
        if (!t)
            continue;
        cr_expect_eq(t->type, s->type, "%s", s->name);
        cr_expect_eq(t->n_dims, s->n_dims, "%s", s->name);
        cr_expect_arr_eq(t->shape, s->shape, sizeof s->shape[0] * (size_t)s->n_dims, "%s", s->name);
        cr_expect_eq(t->size_bytes, s->size_bytes, "%s", s->name);
        cr_expect(memcmp(t->data, s->data, s->size_bytes) == 0, "bytes of '%s' differ", s->name);
    }
}

/* ---- the tiny fixture --------------------------------------------------------------- */

Test(safetensors, opens_tiny_fixture_folder)
{
    const char *dir = test_fixture_path("tiny-llama");
    struct st_model *st = open_ok(dir);
    cr_expect_eq(st_n_tensors(st), TINY_N_TENSORS);
    cr_expect_eq(st_n_files(st), 1);
    cr_expect(ends_with(st_file_path(st, 0), "tiny-llama/model.safetensors"), "%s", st_file_path(st, 0));
    cr_expect_eq(st_file_size(st, 0), 108848);
    cr_expect_null(st_file_path(st, 1));
    st_close(st);
}

Test(safetensors, tiny_tensors_sorted_by_name)
{
    struct st_model *st = open_ok(test_fixture_path("tiny-llama/model.safetensors"));
    cr_expect_str_eq(st_tensor_at(st, 0)->name, "lm_head.weight");
    cr_expect_str_eq(st_tensor_at(st, TINY_N_TENSORS - 1)->name, "model.norm.weight");
    for (int64_t i = 1; i < st_n_tensors(st); i++)
        cr_expect(strcmp(st_tensor_at(st, i - 1)->name, st_tensor_at(st, i)->name) < 0,
                  "tensor %lld '%s' not after '%s'", (long long)i, st_tensor_at(st, i)->name,
                  st_tensor_at(st, i - 1)->name);
    cr_expect_null(st_tensor_at(st, TINY_N_TENSORS));
    cr_expect_null(st_tensor_at(st, -1));
    st_close(st);
}

Test(safetensors, tiny_shapes_and_types)
{
    struct st_model *st = open_ok(test_fixture_path("tiny-llama"));
    const struct st_tensor *e = st_find(st, "model.embed_tokens.weight");
    const struct st_tensor *k = st_find(st, "model.layers.0.self_attn.k_proj.weight");
    cr_assert_not_null(e);
    cr_assert_not_null(k);
    cr_expect_eq(e->type, GGML_TYPE_F32);
    cr_expect_eq(e->n_dims, 2);
    cr_expect_eq(e->shape[0], 275);
    cr_expect_eq(e->shape[1], 32);
    cr_expect_eq(e->size_bytes, 275 * 32 * 4);
    cr_expect_eq(k->shape[0], 16);
    cr_expect_eq(k->shape[1], 32);
    cr_expect_eq(k->size_bytes, 16 * 32 * 4);
    cr_expect_str_eq(k->file, st_file_path(st, 0));
    st_close(st);
}

/* make_tiny.py writes the norms as 1 +- c*i in double, packed to float32. */
Test(safetensors, tiny_norm_values_match_generator)
{
    struct st_model *st = open_ok(test_fixture_path("tiny-llama"));
    const struct st_tensor *norm = st_find(st, "model.norm.weight");
    const struct st_tensor *in = st_find(st, "model.layers.0.input_layernorm.weight");
    const struct st_tensor *post = st_find(st, "model.layers.0.post_attention_layernorm.weight");
    cr_assert(norm && in && post);
    cr_assert_eq(norm->n_dims, 1);
    cr_assert_eq(norm->shape[0], 32);
    cr_assert_eq(norm->size_bytes, 128);
    for (int i = 0; i < 32; i++) {
        cr_expect_eq(f32_at(norm, i), (float)(1.0 + 0.01 * i), "model.norm.weight[%d] = %.9g", i,
                     f32_at(norm, i));
        cr_expect_eq(f32_at(in, i), (float)(1.0 - 0.01 * i), "input_layernorm[%d] = %.9g", i,
                     f32_at(in, i));
        cr_expect_eq(f32_at(post, i), (float)(1.0 + 0.02 * i), "post_attention_layernorm[%d] = %.9g",
                     i, f32_at(post, i));
    }
    st_close(st);
}

Test(safetensors, tiny_metadata)
{
    struct st_model *st = open_ok(test_fixture_path("tiny-llama"));
    const char *format = st_metadata_get(st, "format");
    cr_assert_not_null(format);
    cr_expect_str_eq(format, "pt");
    cr_expect_null(st_metadata_get(st, "no-such-key"));
    st_close(st);
}

Test(safetensors, find_unknown_name_is_null)
{
    struct st_model *st = open_ok(test_fixture_path("tiny-llama"));
    cr_expect_null(st_find(st, "model.layers.1.mlp.up_proj.weight"));
    cr_expect_null(st_find(st, ""));
    cr_expect_not_null(st_find(st, "lm_head.weight"));
    cr_expect_not_null(st_find(st, "model.norm.weight"));
    st_close(st);
}

Test(safetensors, close_null_is_noop)
{
    st_close(NULL);
    cr_expect_eq(st_n_tensors(NULL), 0);
    cr_expect_null(st_find(NULL, "x"));
    cr_expect_null(st_metadata_get(NULL, "format"));
}

Test(safetensors, missing_path_is_einval_naming_it)
{
    expect_einval(NULL, (const char *[]){"no path given", NULL});
    expect_einval("/nonexistent/ingot/model.safetensors",
                  (const char *[]){"/nonexistent/ingot/model.safetensors", "no such file", NULL});
}

/* ---- shared checkpoints ------------------------------------------------------------- */

Test(safetensors, tl3m_f16_names_and_shapes)
{
    const char *path = test_shared_path("tl3m/model.safetensors");
    if (!path)
        cr_skip_test("../shared/data/tl3m is missing (set INGOT_DATA)");
    struct st_model *st = open_ok(path);
    cr_expect_eq(st_n_tensors(st), 39);
    const struct st_tensor *e = st_find(st, "model.embed_tokens.weight");
    const struct st_tensor *down = st_find(st, "model.layers.3.mlp.down_proj.weight");
    cr_assert_not_null(e);
    cr_assert_not_null(down);
    cr_expect_not_null(st_find(st, "lm_head.weight"));
    cr_expect_eq(e->type, GGML_TYPE_F16);
    cr_expect_eq(e->n_dims, 2);
    cr_expect_eq(e->shape[0], 512);
    cr_expect_eq(e->shape[1], 256);
    cr_expect_eq(e->size_bytes, 512 * 256 * 2);
    cr_expect_eq(down->shape[0], 256);
    cr_expect_eq(down->shape[1], 768);
    for (int64_t i = 0; i < st_n_tensors(st); i++) {
        const struct st_tensor *t = st_tensor_at(st, i);
        uint64_t n = 1;
        for (int d = 0; d < t->n_dims; d++)
            n *= (uint64_t)t->shape[d];
        cr_expect_eq(t->type, GGML_TYPE_F16, "%s", t->name);
        cr_expect_eq(t->size_bytes, 2 * n, "%s", t->name);
    }
    /* the view starts at 8 + N + begin: header N = 4120, embed_tokens begins at 262144 */
    size_t size = 0;
    uint8_t *bytes = test_read_file(path, &size);
    cr_assert_not_null(bytes);
    cr_assert_eq(size, st_file_size(st, 0));
    cr_expect(memcmp(e->data, bytes + 8 + 4120 + 262144, e->size_bytes) == 0);
    free(bytes);
    st_close(st);
}

/* TinyStories-656K ties its embeddings: only lm_head.weight is stored, and the metadata
 * records the alias as {"model.embed_tokens.weight": "lm_head.weight"}. */
Test(safetensors, tinystories_656k_tied_metadata)
{
    const char *dir = test_shared_path("hf-TinyStories-656K");
    if (!dir)
        cr_skip_test("../shared/data/hf-TinyStories-656K is missing (set INGOT_DATA)");
    struct st_model *st = open_ok(dir);
    cr_expect_eq(st_n_tensors(st), 20);
    const struct st_tensor *head = st_find(st, "lm_head.weight");
    cr_assert_not_null(head);
    cr_expect_null(st_find(st, "model.embed_tokens.weight"));
    cr_expect_eq(head->type, GGML_TYPE_F32);
    cr_expect_eq(head->shape[0], 2048);
    cr_expect_eq(head->shape[1], 128);
    const char *alias = st_metadata_get(st, "model.embed_tokens.weight");
    const char *format = st_metadata_get(st, "format");
    cr_assert_not_null(alias);
    cr_assert_not_null(format);
    cr_expect_str_eq(alias, "lm_head.weight");
    cr_expect_str_eq(format, "pt");
    st_close(st);
}

/* ---- sharded checkpoints ------------------------------------------------------------ */

Test(safetensors, sharded_matches_unsharded)
{
    const char *dir = test_tmp_dir();
    struct st_model *src = sharded_write(dir, NULL, NULL);
    struct st_model *st = open_ok(dir);
    cr_expect_eq(st_n_files(st), 2, "each shard mapped once");
    expect_same_tensors(src, st);
    st_close(st);
    st_close(src);
    remove_folder(dir);
}

/* Shards come in the order the index first names them (by tensor name), not file-name
 * order; within each shard tensors are sorted by name. */
Test(safetensors, sharded_file_and_tensor_order)
{
    const char *dir = test_tmp_dir();
    struct st_model *src = sharded_write(dir, NULL, NULL);
    struct st_model *st = open_ok(dir);
    cr_assert_eq(st_n_files(st), 2);
    cr_expect(ends_with(st_file_path(st, 0), "/" SHARD_B), "%s", st_file_path(st, 0));
    cr_expect(ends_with(st_file_path(st, 1), "/" SHARD_A), "%s", st_file_path(st, 1));
    cr_expect_str_eq(st_tensor_at(st, 0)->name, "lm_head.weight");
    for (int64_t i = 1; i < st_n_tensors(st); i++) {
        const struct st_tensor *p = st_tensor_at(st, i - 1), *t = st_tensor_at(st, i);
        if (p->file == t->file)
            cr_expect(strcmp(p->name, t->name) < 0, "'%s' before '%s'", p->name, t->name);
        else
            cr_expect(ends_with(t->file, SHARD_A), "file changes to %s", t->file);
    }
    const char *format = st_metadata_get(st, "format");
    cr_assert_not_null(format);
    cr_expect_str_eq(format, "pt-b", "metadata comes from the first file");
    st_close(st);
    st_close(src);
    remove_folder(dir);
}

Test(safetensors, sharded_index_path_directly)
{
    const char *dir = test_tmp_dir();
    char path[4096];
    struct st_model *src = sharded_write(dir, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    struct st_model *st = open_ok(path);
    expect_same_tensors(src, st);
    st_close(st);
    st_close(src);
    remove_folder(dir);
}

Test(safetensors, folder_prefers_index_over_model_safetensors)
{
    const char *dir = test_tmp_dir();
    char path[4096];
    struct st_model *src = sharded_write(dir, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(test_write_file(path, "not safetensors", 15), 0);
    struct st_model *st = open_ok(dir);
    cr_expect_eq(st_n_files(st), 2);
    expect_same_tensors(src, st);
    st_close(st);
    st_close(src);
    remove_folder(dir);
}

Test(safetensors, sharded_missing_tensor_is_named)
{
    const char *dir = test_tmp_dir();
    struct st_model *src = sharded_write(dir, "model.norm.weight", NULL);
    expect_einval(dir, (const char *[]){"model.safetensors.index.json", "weight_map",
                                        "tensor 'model.norm.weight'", SHARD_A, NULL});
    st_close(src);
    remove_folder(dir);
}

/* A tensor stored in a shard but not in the weight_map is still exposed. */
Test(safetensors, sharded_unlisted_tensor_is_exposed)
{
    const char *dir = test_tmp_dir();
    const char *names[TINY_N_TENSORS], *files[TINY_N_TENSORS];
    int n = 0;
    struct st_model *src = sharded_write(dir, NULL, NULL);
    for (int i = 0; i < TINY_N_TENSORS; i++) {
        if (strcmp(st_tensor_at(src, i)->name, "model.norm.weight") == 0)
            continue;
        names[n] = st_tensor_at(src, i)->name;
        files[n++] = i % 2 ? SHARD_A : SHARD_B;
    }
    index_write(dir, names, files, n);     /* same shards, index without model.norm.weight */
    struct st_model *st = open_ok(dir);
    cr_expect_eq(n, TINY_N_TENSORS - 1);
    cr_expect_not_null(st_find(st, "model.norm.weight"), "unlisted tensor not exposed");
    expect_same_tensors(src, st);
    st_close(st);
    st_close(src);
    remove_folder(dir);
}

Test(safetensors, sharded_duplicate_across_shards_rejected)
{
    const char *dir = test_tmp_dir();
    struct st_model *src = sharded_write(dir, NULL, "model.norm.weight");
    expect_einval(dir, (const char *[]){"tensor 'model.norm.weight'", "two files", SHARD_A, SHARD_B,
                                        NULL});
    st_close(src);
    remove_folder(dir);
}

Test(safetensors, sharded_missing_shard_file_is_named)
{
    const char *dir = test_tmp_dir();
    struct st_model *src = sharded_write(dir, NULL, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, SHARD_A);
    unlink(path);
    expect_einval(dir, (const char *[]){SHARD_A, "cannot open", NULL});
    st_close(src);
    remove_folder(dir);
}

Test(safetensors, sharded_rejects_paths_in_weight_map)
{
    const char *bad[] = {"../model.safetensors", "sub/model.safetensors", "..", ".", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *dir = test_tmp_dir();
        char shown[64];
        index_write(dir, (const char *[]){"model.norm.weight"}, &bad[i], 1);
        snprintf(shown, sizeof shown, "maps to '%s'", bad[i]);
        expect_einval(dir, (const char *[]){"model.safetensors.index.json", "weight_map",
                                            "tensor 'model.norm.weight'", shown, NULL});
        remove_folder(dir);
    }
}

Test(safetensors, index_without_weight_map_object_rejected)
{
    const char *cases[][2] = {
        {"{\"weight_map\": []}", "weight_map is an array"},
        {"{\"metadata\": {}}", "weight_map is missing"},
        {"{\"weight_map\": {}}", "weight_map is empty"},
        {"[]", "index is an array"},
        {"{\"weight_map\": {\"a\": 5}}", "tensor 'a' maps to an integer"},
        {"{\"weight_map\": {\"a\": \"x\", \"a\": \"y\"}}", "duplicate object key"},
        {"{\"weight_map\": ", "index is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = test_tmp_dir();
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        cr_assert_eq(test_write_file(path, cases[i][0], strlen(cases[i][0])), 0);
        expect_einval(dir, (const char *[]){path, cases[i][1], NULL});
        remove_folder(dir);
    }
}

/* Failing each of st_open's own allocations in turn yields IG_ENOMEM and leaks nothing (the
 * ASan build checks the leaks). jansson keeps plain malloc: under json_set_alloc_funcs with a
 * failing allocator, jansson 2.14's parser reports OOM as a syntax error and can write
 * through a failed allocation, so its own OOM paths cannot be walked from here. */
Test(safetensors, allocation_failures_are_enomem)
{
    const char *dir = test_tmp_dir();
    struct st_model *src = sharded_write(dir, NULL, NULL);
    int n_failed = 0;
    for (long n = 1; n < 10000; n++) {
        struct st_model *st = NULL;
        ig_alloc_fail_after(n);
        int rc = st_open(&st, dir);
        ig_alloc_fail_after(0);
        if (rc == 0) {
            st_close(st);
            break;
        }
        n_failed++;
        cr_expect_eq(rc, IG_ENOMEM, "allocation %ld failed: rc %d: %s", n, rc, ig_error_message());
        cr_expect_null(st);
    }
    cr_expect_gt(n_failed, 20, "only %d allocations were failed", n_failed);
    st_close(src);
    remove_folder(dir);
}

/* ---- folder resolution -------------------------------------------------------------- */

static void copy_tiny(const char *dir, const char *name)
{
    char path[4096];
    size_t size = 0;
    uint8_t *bytes = test_read_file(test_fixture_path("tiny-llama/model.safetensors"), &size);
    cr_assert_not_null(bytes);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(test_write_file(path, bytes, size), 0);
    free(bytes);
}

Test(safetensors, folder_with_one_other_file_opens)
{
    const char *dir = test_tmp_dir();
    copy_tiny(dir, "weights.safetensors");
    struct st_model *st = open_ok(dir);
    cr_expect_eq(st_n_tensors(st), TINY_N_TENSORS);
    cr_expect(ends_with(st_file_path(st, 0), "/weights.safetensors"), "%s", st_file_path(st, 0));
    st_close(st);
    remove_folder(dir);
}

Test(safetensors, folder_with_two_files_and_no_index_rejected)
{
    const char *dir = test_tmp_dir();
    copy_tiny(dir, "b.safetensors");
    copy_tiny(dir, "a.safetensors");
    expect_einval(dir, (const char *[]){dir, "2 *.safetensors files (a.safetensors, b.safetensors)",
                                        "model.safetensors.index.json", NULL});
    remove_folder(dir);
}

Test(safetensors, folder_without_safetensors_rejected)
{
    const char *dir = test_tmp_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    cr_assert_eq(test_write_file(path, "x", 1), 0);
    expect_einval(dir, (const char *[]){dir, "no model.safetensors.index.json", NULL});
    remove_folder(dir);
}

/* ---- valid edge cases --------------------------------------------------------------- */

Test(safetensors, zero_size_and_scalar_tensors_allowed)
{
    const char *path = write_st("{\"empty\":{\"dtype\":\"BF16\",\"shape\":[3,0,2],\"data_offsets\":[2,2]},"
                                "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                                "\"pair\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}", 8);
    struct st_model *st = open_ok(path);
    const struct st_tensor *e = st_find(st, "empty"), *s = st_find(st, "scalar");
    cr_assert(e && s && st_find(st, "pair"));
    cr_expect_eq(e->size_bytes, 0);
    cr_expect_eq(e->n_dims, 3);
    cr_expect_eq(e->type, GGML_TYPE_BF16);
    cr_expect_eq(s->n_dims, 0);
    cr_expect_eq(s->size_bytes, 4);
    cr_expect_eq(st_find(st, "pair")->type, GGML_TYPE_F16);
    cr_expect_null(st_metadata_get(st, "format"), "no __metadata__");
    st_close(st);
}

/* Holes between tensors, bytes after the last one, an odd header length (unaligned data)
 * and the largest name and dim count allowed are all accepted. */
Test(safetensors, holes_odd_header_and_limits_allowed)
{
    char header[1024], name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    snprintf(header, sizeof header,
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]},"
             "\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", name);
    if (strlen(header) % 2 == 0)
        strcat(header, " ");
    const char *path = write_st(header, 20);
    struct st_model *st = open_ok(path);
    const struct st_tensor *a = st_find(st, "a"), *b = st_find(st, name);
    cr_assert(a && b);
    cr_expect_eq(a->n_dims, ST_MAX_DIMS);
    cr_expect_eq(b->data - a->data, 12);
    st_close(st);
}

/* ---- hostile files: one test per fault ---------------------------------------------- */

#define NORM_ENTRY(body) "{\"model.norm.weight\":{" body "}}"

Test(safetensors_bad, rejects_file_shorter_than_8_bytes)
{
    const char *dir = test_tmp_dir();
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(test_write_file(path, "\x10\0\0\0\0", 5), 0);
    expect_einval(path, (const char *[]){path, "5 bytes", "too short", "header length", NULL});
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    cr_assert_eq(test_write_file(path, "", 0), 0);
    expect_einval(path, (const char *[]){path, "0 bytes", "too short", NULL});
}

Test(safetensors_bad, rejects_zero_header_length)
{
    const char *path = write_st_len("{}", 0, 16);
    expect_einval(path, (const char *[]){path, "header length is 0", NULL});
}

Test(safetensors_bad, rejects_header_length_over_100_mib)
{
    const char *path = write_st_len("{}", (100ull << 20) + 1, 16);
    expect_einval(path, (const char *[]){path, "header length 104857601", "104857600 allowed", NULL});
    path = write_st_len("{}", UINT64_MAX, 16);
    expect_einval(path, (const char *[]){"header length 18446744073709551615", NULL});
}

Test(safetensors_bad, rejects_header_length_past_end_of_file)
{
    const char *path = write_st_len("{}  ", 13, 4);
    expect_einval(path, (const char *[]){path, "header length 13", "past the end of the file", NULL});
}

Test(safetensors_bad, rejects_header_not_json)
{
    expect_rejected("{\"model.norm.weight\": {\"dtype\": ", 0,
                    (const char *[]){"header is not valid JSON", NULL});
    expect_rejected("{\"a\":1} trailing", 0, (const char *[]){"header is not valid JSON", NULL});
    expect_rejected("{\"\xff\":1}", 0, (const char *[]){"header is not valid JSON", NULL});
}

Test(safetensors_bad, rejects_header_not_object)
{
    expect_rejected("[1, 2, 3]", 0, (const char *[]){"header is an array", "object", NULL});
    expect_rejected("42", 0, (const char *[]){"header is an integer", "object", NULL});
}

Test(safetensors_bad, rejects_entry_not_object)
{
    expect_rejected("{\"model.norm.weight\": [1]}", 0,
                    (const char *[]){"tensor 'model.norm.weight'", "entry is an array", NULL});
}

Test(safetensors_bad, rejects_unsupported_dtypes)
{
    const char *dtypes[] = {"I8", "F64", "F8_E4M3", "BOOL", "U8"};
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        char header[256], needle[64];
        snprintf(header, sizeof header, NORM_ENTRY("\"dtype\":\"%s\",\"shape\":[1],\"data_offsets\":[0,8]"),
                 dtypes[i]);
        snprintf(needle, sizeof needle, "dtype '%s' is not supported", dtypes[i]);
        expect_rejected(header, 8, (const char *[]){"tensor 'model.norm.weight'", needle,
                                                    "allowed: F32, F16, BF16", NULL});
    }
}

Test(safetensors_bad, rejects_unknown_dtype)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]"), 4,
                    (const char *[]){"dtype 'f32' is not a safetensors dtype", "F32, F16, BF16", NULL});
}

Test(safetensors_bad, rejects_dtype_of_wrong_type)
{
    expect_rejected(NORM_ENTRY("\"dtype\":0,\"shape\":[1],\"data_offsets\":[0,4]"), 4,
                    (const char *[]){"tensor 'model.norm.weight'", "dtype is an integer",
                                     "expected a string", NULL});
    expect_rejected(NORM_ENTRY("\"shape\":[1],\"data_offsets\":[0,4]"), 4,
                    (const char *[]){"dtype is missing", NULL});
}

Test(safetensors_bad, rejects_shape_of_wrong_type)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]"), 4,
                    (const char *[]){"tensor 'model.norm.weight'", "shape is an object", NULL});
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"data_offsets\":[0,4]"), 4,
                    (const char *[]){"shape is missing", NULL});
}

Test(safetensors_bad, rejects_negative_shape_dim)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]"), 16,
                    (const char *[]){"tensor 'model.norm.weight'", "shape[1] is -2",
                                     "non-negative integer", NULL});
}

Test(safetensors_bad, rejects_non_integer_shape_dim)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]"), 8,
                    (const char *[]){"shape[0] is a real number", NULL});
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]"), 8,
                    (const char *[]){"shape[0] is a string", NULL});
}

Test(safetensors_bad, rejects_shape_product_overflow)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
                               "\"data_offsets\":[0,16]"), 16,
                    (const char *[]){"tensor 'model.norm.weight'", "shape [4294967296, 4294967296, 16]",
                                     "overflows", NULL});
    /* 2^62 elements fit int64, but 2^62 * 4 bytes do not fit 64 bits */
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                               "\"data_offsets\":[0,16]"), 16,
                    (const char *[]){"shape [4611686018427387904] of F32 needs more than 2^64 bytes",
                                     NULL});
    /* a zero makes the product 0 even after a partial product that overflows */
    const char *path = write_st(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],"
                                           "\"data_offsets\":[0,0]"), 0);
    struct st_model *st = open_ok(path);
    cr_expect_eq(st_find(st, "model.norm.weight")->size_bytes, 0);
    st_close(st);
}

Test(safetensors_bad, rejects_too_many_dims)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]"),
                    4, (const char *[]){"tensor 'model.norm.weight'", "shape has 9 dims",
                                        "allowed 0..8", NULL});
}

Test(safetensors_bad, rejects_data_offsets_of_wrong_shape)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]"), 4,
                    (const char *[]){"tensor 'model.norm.weight'", "data_offsets has length 1", NULL});
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1]"), 4,
                    (const char *[]){"data_offsets is missing", NULL});
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]"), 4,
                    (const char *[]){"data_offsets[1] is a real number", NULL});
}

Test(safetensors_bad, rejects_negative_data_offset)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]"), 4,
                    (const char *[]){"tensor 'model.norm.weight'", "data_offsets[0] is -4", NULL});
}

Test(safetensors_bad, rejects_data_offset_beyond_int64)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1],"
                               "\"data_offsets\":[0,18446744073709551616]"), 4,
                    (const char *[]){"header is not valid JSON", NULL});
}

Test(safetensors_bad, rejects_begin_after_end)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]"), 8,
                    (const char *[]){"tensor 'model.norm.weight'", "data_offsets [8, 4]",
                                     "begin after", NULL});
}

Test(safetensors_bad, rejects_data_offsets_past_end)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]"), 15,
                    (const char *[]){"tensor 'model.norm.weight'", "data_offsets [0, 16]",
                                     "past the end of the data buffer, which holds 15 bytes", NULL});
}

Test(safetensors_bad, rejects_size_mismatch)
{
    expect_rejected(NORM_ENTRY("\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[0,12]"), 12,
                    (const char *[]){"tensor 'model.norm.weight': data_offsets [0, 12] hold 12 bytes, "
                                     "but shape [64] of F32 needs 256", NULL});
    expect_rejected(NORM_ENTRY("\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,24]"), 24,
                    (const char *[]){"shape [2, 3] of BF16 needs 12", NULL});
}

Test(safetensors_bad, rejects_overlapping_tensors)
{
    expect_rejected("{\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]},"
                    "\"c\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                    "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 24,
                    (const char *[]){"tensors 'a' (data_offsets [0, 16]) and 'b' (data_offsets "
                                     "[8, 24]) overlap", NULL});
    /* one tensor inside a larger one, after a third that ends first */
    expect_rejected("{\"big\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"
                    "\"mid\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                    "\"in\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}", 32,
                    (const char *[]){"'big' (data_offsets [0, 32])", "overlap", NULL});
}

Test(safetensors_bad, rejects_duplicate_tensor_key)
{
    expect_rejected("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                    (const char *[]){"header is not valid JSON", "duplicate object key", NULL});
}

Test(safetensors_bad, rejects_metadata_non_string)
{
    expect_rejected("{\"__metadata__\":{\"format\":\"pt\",\"step\":3}}", 0,
                    (const char *[]){"__metadata__ key 'step' is an integer", "expected a string", NULL});
}

Test(safetensors_bad, rejects_metadata_not_object)
{
    expect_rejected("{\"__metadata__\":\"pt\"}", 0,
                    (const char *[]){"__metadata__ is a string", "expected an object of strings", NULL});
}

Test(safetensors_bad, rejects_empty_name)
{
    expect_rejected("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    (const char *[]){"empty name", "allowed 1..255", NULL});
}

Test(safetensors_bad, rejects_name_over_255_bytes)
{
    char header[512], name[257];
    memset(name, 'x', 256);
    name[256] = '\0';
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             name);
    expect_rejected(header, 4, (const char *[]){"name is 256 bytes long", "allowed 1..255",
                                                "tensor 'xxxxxxxx", NULL});
}

Test(safetensors_bad, rejects_nul_in_name)
{
    expect_rejected("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                    (const char *[]){"header is not valid JSON", NULL});
}

/* A hostile string reaches the message escaped, never as raw control bytes. */
Test(safetensors_bad, control_bytes_in_messages_are_escaped)
{
    expect_rejected("{\"\\u001b[2Jx\":{\"dtype\":\"\\u001b]0;pwn\\u0007\",\"shape\":[1],"
                    "\"data_offsets\":[0,4]}}", 4,
                    (const char *[]){"tensor '\\x1b[2Jx'", "dtype '\\x1b]0;pwn\\x07'", NULL});
    cr_expect_null(strchr(ig_error_message(), '\x1b'), "raw ESC in: %s", ig_error_message());
}

/* ---- the catalogue in tests/data/bad ------------------------------------------------ */

/* Every st-* case fails in st_open itself with IG_EINVAL and the substrings its line lists
 * (the command-line runner checks the same through `ingot convert`). */
Test(safetensors_bad, catalogue_cases_fail_with_named_fields)
{
    const char *tsv = test_fixture_path("bad/safetensors.tsv");
    char line[4096];
    int n_cases = 0;
    FILE *f = fopen(tsv, "r");
    cr_assert_not_null(f, "cannot read %s (run tests/data/bad/gen_safetensors.py)", tsv);
    while (fgets(line, sizeof line, f)) {
        const char *needles[16];
        int n = 0;
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL, *field = strtok_r(line, "\t", &save);
        if (!field)
            continue;
        char rel[4096], dir[4096];
        snprintf(rel, sizeof rel, "bad/%s", field);
        snprintf(dir, sizeof dir, "%s", test_fixture_path(rel));
        while (n < 15 && (field = strtok_r(NULL, "\t", &save)))
            needles[n++] = field;
        needles[n] = NULL;
        cr_expect_gt(n, 1, "%s lists fewer than two substrings", dir);
        expect_einval(dir, needles);
        n_cases++;
    }
    fclose(f);
    cr_expect_geq(n_cases, 12, "only %d cases in %s", n_cases, tsv);
}
