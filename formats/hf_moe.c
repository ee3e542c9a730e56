/* hf_moe.c — Mixtral's expert linears as stacked tensors (see hf_moe.h). */
#include "hf_moe.h"

#include "../common/ig_error.h"
#include "ggml_type.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- types --------------------------------------------------------------------------------- */

/* HF's w1, w2, w3 -> llama.cpp's names. */
static const char *const kind_gguf[3] = {"ffn_gate_exps.weight", "ffn_down_exps.weight", "ffn_up_exps.weight"};

/* One stack: the parts of one kind in one block, by expert. */
struct hf_stack {
    const struct st_tensor **parts;   /* [n_expert] borrowed, NULL until seen */
    int64_t n_seen;
    int64_t rows, cols;               /* of every part */
    int type;
};

struct hf_moe {
    int64_t n_layer, n_expert;
    struct hf_stack *stacks;          /* [n_layer][3], never reallocated: tensors point in */
    const struct st_tensor **parts;   /* [n_layer][3][n_expert] */
};

/* ---- lifecycle ----------------------------------------------------------------------------- */

int hf_moe_create(struct hf_moe **out, int64_t n_layer, int64_t n_expert)
{
    struct hf_moe *m = ig_calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return IG_ENOMEM;
    m->n_layer = n_layer;
    m->n_expert = n_expert;
    m->stacks = ig_calloc((size_t)(n_layer * 3), sizeof *m->stacks);
    m->parts = ig_calloc((size_t)(n_layer * 3 * n_expert), sizeof *m->parts);
    if (!m->stacks || !m->parts) {
        hf_moe_destroy(m);
        return IG_ENOMEM;
    }
    for (int64_t i = 0; i < n_layer * 3; i++)
        m->stacks[i].parts = m->parts + i * n_expert;
    *out = m;
    return 0;
}

void hf_moe_destroy(struct hf_moe *m)
{
    if (!m)
        return;
    free(m->stacks);
    free(m->parts);
    free(m);
}

/* ---- recording parts ------------------------------------------------------------------------ */

/* Parse "model.layers.L.block_sparse_moe.experts.E.wK.weight": true with l, e and kind 0..2. */
static bool parse_part(const char *name, long *l, long *e, int *kind)
{
    int n = 0, k = 0;
    if (sscanf(name, "model.layers.%ld.block_sparse_moe.experts.%ld.w%d.weight%n", l, e, &k, &n) != 3 || n == 0 ||
        name[n] != '\0' || k < 1 || k > 3)
        return false;
    *kind = k - 1;
    return true;
}

bool hf_moe_is_part(const char *hf_name)
{
    long l, e;
    int kind;
    return parse_part(hf_name, &l, &e, &kind);
}

/* The stacked tensor of s (block l, kind). */
static void stack_tensor(struct hf_stack *s, long l, int kind, int64_t n_expert, struct src_tensor *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "blk.%ld.%s", l, kind_gguf[kind]);
    snprintf(t->src_name, sizeof t->src_name, "model.layers.%ld.block_sparse_moe.experts.*.w%d.weight", l, kind + 1);
    t->n_dims = 3;
    t->ne[0] = s->cols;
    t->ne[1] = s->rows;
    t->ne[2] = n_expert;
    t->ne[3] = 1;
    /* read only through hf_moe_read_rows_f32: the parts are not one byte range */
    t->type = SRC_TYPE_CALLBACK;
    t->type_name = ggml_type_name(s->type);
    for (int64_t e = 0; e < n_expert; e++)
        t->size_bytes += s->parts[e]->size_bytes;
    t->file = s->parts[0]->file;
    t->read_rows_f32 = hf_moe_read_rows_f32;
    t->aux = s;
}

int hf_moe_take(struct hf_moe *m, const struct st_tensor *st, bool *complete, struct src_tensor *t)
{
    long l, e;
    int kind;
    *complete = false;
    if (!parse_part(st->name, &l, &e, &kind))
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' is not an expert linear", st->file, st->name);
    if (l < 0 || l >= m->n_layer || e < 0 || e >= m->n_expert)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': block %ld or expert %ld is out of range (num_hidden_layers %lld, num_local_experts %lld)",
                            st->file, st->name, l, e, (long long)m->n_layer, (long long)m->n_expert);
    if (st->n_dims != 2)
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': %d dimensions, expected 2", st->file, st->name, st->n_dims);
    struct hf_stack *s = &m->stacks[l * 3 + kind];
    if (s->parts[e])
        return ig_error_set(IG_EINVAL, "%s: tensor '%s' appears twice", st->file, st->name);
    if (s->n_seen == 0) {
        s->rows = st->shape[0];
        s->cols = st->shape[1];
        s->type = st->type;
    } else if (st->shape[0] != s->rows || st->shape[1] != s->cols || st->type != s->type) {
        return ig_error_set(IG_EINVAL, "%s: tensor '%s': [%lld, %lld] %s, but expert 0..'s of its kind are [%lld, %lld] %s",
                            st->file, st->name, (long long)st->shape[0], (long long)st->shape[1],
                            ggml_type_name(st->type), (long long)s->rows, (long long)s->cols, ggml_type_name(s->type));
    }
    s->parts[e] = st;
    if (++s->n_seen == m->n_expert) {
        stack_tensor(s, l, kind, m->n_expert, t);
        *complete = true;
    }
    return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

int hf_moe_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst)
{
    const struct hf_stack *s = t->aux;
    const int64_t total = s->rows * t->ne[2];
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > total)
        return ig_error_set(IG_EINVAL, "tensor '%s': rows %lld..%lld out of range (%lld rows)", t->name,
                            (long long)row0, (long long)(row0 + n_rows), (long long)total);
    int rc = 0;
    for (int64_t r = row0; r < row0 + n_rows && !rc;) {
        const int64_t e = r / s->rows, within = r % s->rows;
        const int64_t n = s->rows - within < row0 + n_rows - r ? s->rows - within : row0 + n_rows - r;
        struct src_tensor part;
        memset(&part, 0, sizeof part);
        snprintf(part.name, sizeof part.name, "%s", t->name);
        part.n_dims = 2;
        part.ne[0] = s->cols;
        part.ne[1] = s->rows;
        part.ne[2] = part.ne[3] = 1;
        part.type = s->type;
        part.data = s->parts[e]->data;
        part.size_bytes = s->parts[e]->size_bytes;
        part.file = s->parts[e]->file;
        rc = src_tensor_read_rows_f32(&part, within, n, dst + (r - row0) * s->cols);
        r += n;
    }
    return rc;
}

uint64_t hf_moe_xxh3(const void *aux)
{
    const struct hf_stack *s = aux;
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    XXH3_64bits_reset(st);
    for (int64_t e = 0; e < s->n_seen; e++)
        XXH3_64bits_update(st, s->parts[e]->data, (size_t)s->parts[e]->size_bytes);
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}
