/* real_folder.c — see real_folder.h. */
#include "real_folder.h"

#include "common/ig_half.h"
#include "formats/ggml_type.h"
#include "formats/safetensors.h"
#include "formats/safetensors_write.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

json_t *real_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    cr_assert_not_null(j, "fixture JSON: line %d: %s", err.line, err.text);
    return j;
}

void real_put_json(const char *dir, const char *name, json_t *obj)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(json_dump_file(obj, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0, "write %s", path);
    json_decref(obj);
}

/* One tensor of the new checkpoint: its name, shape and BF16 bytes (owned). */
struct out_tensor {
    char name[160];
    int n_dims;
    int64_t shape[4];
    uint16_t *bf16;
    size_t n;
};

static float element(const struct st_tensor *t, size_t i)
{
    uint16_t h;
    float f;
    switch (t->type) {
    case GGML_TYPE_F16: memcpy(&h, t->data + 2 * i, 2); return ig_fp16_to_fp32(h);
    case GGML_TYPE_BF16: memcpy(&h, t->data + 2 * i, 2); return ig_bf16_to_fp32(h);
    default: memcpy(&f, t->data + 4 * i, 4); return f;
    }
}

static void take(struct out_tensor *o, const struct st_tensor *t, const struct real_weights *w)
{
    snprintf(o->name, sizeof o->name, "%s%s", w->prefix ? w->prefix : "", t->name);
    o->n_dims = t->n_dims;
    size_t n = 1, n_src = 1;
    for (int d = 0; d < t->n_dims; d++) {
        o->shape[d] = t->shape[d];
        n_src *= (size_t)t->shape[d];
    }
    const bool resize = strcmp(t->name, "model.embed_tokens.weight") == 0 && w->embed_rows > 0;
    if (resize)
        o->shape[0] = w->embed_rows;
    for (int d = 0; d < o->n_dims; d++)
        n *= (size_t)o->shape[d];
    o->n = n;
    o->bf16 = malloc(2 * n);
    cr_assert_not_null(o->bf16);
    for (size_t i = 0; i < n; i++)
        o->bf16[i] = ig_fp32_to_bf16(i < n_src ? element(t, i) : 0.5f * element(t, i % n_src));
}

static void write_shard(const char *path, struct out_tensor *t, int n)
{
    struct st_writer *sw;
    cr_assert_eq(st_writer_open(&sw, path), 0, "open %s", path);
    for (int i = 0; i < n; i++)
        cr_assert_eq(st_writer_declare(sw, t[i].name, "BF16", t[i].n_dims, t[i].shape), 0, "declare %s", t[i].name);
    cr_assert_eq(st_writer_begin_data(sw), 0);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(st_writer_write(sw, t[i].bf16, 2 * t[i].n), 0);
        cr_assert_eq(st_writer_end_tensor(sw), 0);
    }
    cr_assert_eq(st_writer_close(sw), 0, "close %s", path);
}

void real_rewrite_weights(const char *dir, const struct real_weights *w)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct st_model *st;
    cr_assert_eq(st_open(&st, path), 0, "open %s", path);
    const int64_t n_src = st_n_tensors(st);
    struct out_tensor *t = calloc((size_t)n_src + 2, sizeof *t);
    int n = 0;
    for (int64_t i = 0; i < n_src; i++) {
        const struct st_tensor *s = st_tensor_at(st, i);
        if (!(w->drop_lm_head && strcmp(s->name, "lm_head.weight") == 0))
            take(&t[n++], s, w);
    }
    st_close(st);
    cr_assert_eq(unlink(path), 0);
    if (w->vision) {   /* SigLIP's first conv and gemma3's projector, as named in the 4B release */
        static const struct {
            const char *name;
            int n_dims;
            int64_t shape[4];
        } vis[] = {{"vision_tower.vision_model.embeddings.patch_embedding.weight", 4, {8, 3, 2, 2}},
                   {"multi_modal_projector.mm_input_projection_weight", 2, {8, 64}}};
        for (size_t v = 0; v < 2; v++) {
            struct out_tensor *o = &t[n++];
            snprintf(o->name, sizeof o->name, "%s", vis[v].name);
            o->n_dims = vis[v].n_dims;
            o->n = 1;
            for (int d = 0; d < o->n_dims; d++)
                o->n *= (size_t)(o->shape[d] = vis[v].shape[d]);
            o->bf16 = calloc(o->n, 2);
        }
    }
    json_t *map = json_object();
    size_t total = 0;
    const int per = (n + w->n_shards - 1) / w->n_shards;
    for (int s = 0; s < w->n_shards; s++) {
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, w->n_shards);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        const int lo = s * per, hi = lo + per < n ? lo + per : n;
        write_shard(path, t + lo, hi - lo);
        for (int i = lo; i < hi; i++) {
            json_object_set_new(map, t[i].name, json_string(name));
            total += 2 * t[i].n;
        }
    }
    json_t *index = json_object();
    json_object_set_new(index, "metadata", json_pack("{s:I}", "total_size", (json_int_t)total));
    json_object_set_new(index, "weight_map", map);
    real_put_json(dir, "model.safetensors.index.json", index);
    for (int i = 0; i < n; i++)
        free(t[i].bf16);
    free(t);
}
