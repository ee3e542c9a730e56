/* task_stream.c — task scoring on a packed model, block by block (task_stream_impl.h).
 *
 * The per-item scorer (tasks.c) runs each item through every block on its own, so every block's
 * packed weights are dequantized once per prefix and once per option, and every block's file
 * pages stay in memory for the whole run. Here a batch of items advances one block at a time, as
 * verify/stream.c does for perplexity windows: block l runs the batch's prefixes in one call and
 * all its options' continuations in a second (each continuation over a copy of its prefix's keys
 * and values, positions P ..), then block l's pages are dropped. The keys and values of the
 * block in flight are all that is cached. A row's result depends on nothing but its own sequence
 * (kernels/backend.h, model_block_forward_seqs), so the figures equal the per-item scorer's.
 */
#include "task_stream_impl.h"

#include "../common/ig_error.h"
#include "verify.h"

#include <stdlib.h>
#include <string.h>

/* Rows of activations (prefixes, or continuations) one block call takes at most without a memory
 * budget (verify_task_mem_budget_set); an item larger than this goes alone. */
#define STREAM_ROWS 1024
/* Options per item the budget assumes when it sizes the key/value copies (HellaSwag has 4). */
#define BUDGET_OPTS 4
/* Rows of logits computed at once (n_vocab floats each). */
#define OUTPUT_ROWS 256

/* One batch: items [i0, i1) with, per option (index k - offset[i0]), its continuation's rows. */
struct batch {
    int64_t i0, i1;
    int64_t n_opts;             /* options in the batch */
    int64_t rows_p, rows_b;     /* prefix rows, continuation rows */
    float *xp, *xb;             /* [rows_p][d], [rows_b][d] */
    float *K, *V;               /* per option [P + rest][kv] back to back */
    int64_t *kv_off;            /* [n_opts] row of option k's cache in K / V */
    int64_t *xb_off;            /* [n_opts] row of option k's continuation in xb */
    int64_t *out_row;           /* [items] row of item i's first logits row in its output chunk */
    struct model_seq *seq_p, *seq_b;   /* [items], [n_opts] */
};

static int64_t item_rows(const struct task_prepared *p, int64_t i, int64_t *rows_p, int64_t *rows_b)
{
    const int64_t P = task_item_prefix(p, i);
    int64_t b = 0;
    for (int64_t k = p->offset[i]; k < p->offset[i + 1]; k++)
        b += p->opts[k].n - P;
    *rows_p = P;
    *rows_b = b;
    return P > b ? P : b;
}

/* ---- the batch size ---------------------------------------------------------------------------- */

static uint64_t mem_budget;   /* bytes; 0: STREAM_ROWS rows per batch */

void verify_task_mem_budget_set(uint64_t budget_bytes)
{
    mem_budget = budget_bytes;
}

/* Rows per block call: STREAM_ROWS, or as many as the budget holds once the largest block and the
 * logits are set aside (as verify_mem_plan_make does for windows), at least 64 and never more
 * than all the items need. Per row: its hidden state in xp or xb, the block scratch
 * (model_ctx_create), and the keys and values of up to BUDGET_OPTS options' copies. */
static int64_t stream_rows(const struct model *m, const struct task_prepared *p)
{
    if (mem_budget == 0)
        return STREAM_ROWS;
    const struct model_hparams *hp = model_hparams(m);
    const uint64_t d = (uint64_t)hp->n_embd, ff = (uint64_t)hp->n_ff, q = (uint64_t)(hp->n_head * hp->head_dim);
    const uint64_t kv = (uint64_t)(hp->n_head_kv * hp->head_dim);
    uint64_t block = 0;
    for (int64_t l = -1; l < hp->n_layer; l++) {
        uint64_t b = model_block_size_bytes(m, l);
        block = b > block ? b : block;
    }
    const uint64_t fixed = block + (uint64_t)OUTPUT_ROWS * (d + (uint64_t)hp->n_vocab) * sizeof(float);
    const uint64_t per_row = sizeof(float) * (2 * d + 2 * d + 2 * q + 2 * kv + 2 * ff + 2 * (1 + BUDGET_OPTS) * kv);
    int64_t rows = (int64_t)((mem_budget > fixed ? mem_budget - fixed : 0) / per_row), all_p = 0, all_b = 0;
    for (int64_t i = 0; i < p->set->n_items; i++) {
        int64_t rp, rb;
        item_rows(p, i, &rp, &rb);
        all_p += rp;
        all_b += rb;
    }
    const int64_t all = all_p > all_b ? all_p : all_b;
    rows = rows > all ? all : rows;
    return rows < 64 ? 64 : rows;
}

/* The batch starting at item i0: as many items as keep both calls within max_rows rows. */
static void batch_plan(const struct task_prepared *p, int64_t i0, int64_t max_rows, struct batch *b)
{
    b->i0 = i0;
    b->rows_p = b->rows_b = 0;
    int64_t i = i0;
    for (; i < p->set->n_items; i++) {
        int64_t rp, rb;
        item_rows(p, i, &rp, &rb);
        if (i > i0 && (b->rows_p + rp > max_rows || b->rows_b + rb > max_rows))
            break;
        b->rows_p += rp;
        b->rows_b += rb;
    }
    b->i1 = i;
    b->n_opts = p->offset[i] - p->offset[i0];
}

static void batch_free(struct batch *b)
{
    free(b->xp);
    free(b->xb);
    free(b->K);
    free(b->V);
    free(b->kv_off);
    free(b->xb_off);
    free(b->out_row);
    free(b->seq_p);
    free(b->seq_b);
    memset(b, 0, sizeof *b);
}

/* Buffers and sequence tables of the planned batch, and its embeddings. */
static int batch_setup(struct batch *b, const struct model *m, const struct task_prepared *p)
{
    const struct model_hparams *hp = model_hparams(m);
    const int64_t d = hp->n_embd, kv = hp->n_head_kv * hp->head_dim, n_items = b->i1 - b->i0;
    int64_t kv_rows = 0;   /* every option's P + rest */
    for (int64_t i = b->i0; i < b->i1; i++)
        kv_rows += (p->offset[i + 1] - p->offset[i]) * task_item_prefix(p, i);
    kv_rows += b->rows_b;
    b->xp = ig_malloc(sizeof(float) * (size_t)(b->rows_p * d));
    b->xb = ig_malloc(sizeof(float) * (size_t)(b->rows_b * d));
    b->K = ig_malloc(sizeof(float) * (size_t)(kv_rows * kv));
    b->V = ig_malloc(sizeof(float) * (size_t)(kv_rows * kv));
    b->kv_off = ig_malloc(sizeof(int64_t) * (size_t)b->n_opts);
    b->xb_off = ig_malloc(sizeof(int64_t) * (size_t)b->n_opts);
    b->out_row = ig_malloc(sizeof(int64_t) * (size_t)n_items);
    b->seq_p = ig_malloc(sizeof(struct model_seq) * (size_t)n_items);
    b->seq_b = ig_malloc(sizeof(struct model_seq) * (size_t)b->n_opts);
    if (!b->xp || !b->xb || !b->K || !b->V || !b->kv_off || !b->xb_off || !b->out_row || !b->seq_p || !b->seq_b)
        return IG_ENOMEM;
    int64_t row_p = 0, row_b = 0, row_kv = 0;
    int rc = 0;
    for (int64_t i = b->i0; i < b->i1 && !rc; i++) {
        const int64_t P = task_item_prefix(p, i), k0 = p->offset[b->i0];
        const struct task_tokens *o = p->opts + p->offset[i];
        rc = model_embed(m, o[0].ids, P, b->xp + row_p * d);
        for (int64_t k = p->offset[i]; k < p->offset[i + 1] && !rc; k++) {
            const struct task_tokens *ok = &p->opts[k];
            b->kv_off[k - k0] = row_kv;
            b->xb_off[k - k0] = row_b;
            b->seq_b[k - k0] = (struct model_seq){ok->n - P, P, b->K + row_kv * kv, b->V + row_kv * kv};
            rc = model_embed(m, ok->ids + P, ok->n - P, b->xb + row_b * d);
            row_kv += ok->n;
            row_b += ok->n - P;
        }
        /* the prefix's keys and values go to its first option's cache, then are copied */
        b->seq_p[i - b->i0] = (struct model_seq){P, 0, b->K + b->kv_off[p->offset[i] - k0] * kv,
                                                 b->V + b->kv_off[p->offset[i] - k0] * kv};
        row_p += P;
    }
    return rc;
}

/* Block l on the batch: prefixes, their keys and values to every option, continuations. */
static int batch_block(struct batch *b, const struct model *m, struct model_ctx *c, const struct task_prepared *p,
                       int64_t l)
{
    const struct model_hparams *hp = model_hparams(m);
    const int64_t kv = hp->n_head_kv * hp->head_dim, k0 = p->offset[b->i0];
    int rc = model_block_forward_seqs(m, c, l, b->xp, b->i1 - b->i0, b->seq_p);
    for (int64_t i = b->i0; i < b->i1 && !rc; i++) {
        const int64_t P = task_item_prefix(p, i);
        const float *K0 = b->seq_p[i - b->i0].k_cache, *V0 = b->seq_p[i - b->i0].v_cache;
        for (int64_t k = p->offset[i] + 1; k < p->offset[i + 1]; k++) {
            memcpy(b->K + b->kv_off[k - k0] * kv, K0, sizeof(float) * (size_t)(P * kv));
            memcpy(b->V + b->kv_off[k - k0] * kv, V0, sizeof(float) * (size_t)(P * kv));
        }
    }
    return rc ? rc : model_block_forward_seqs(m, c, l, b->xb, b->n_opts, b->seq_b);
}

/* Logits and scores of items [i0, i1) of the batch, a chunk of items at a time: each item's
 * prefix's last row, then its options' rows, gathered into xo and put through model_output. */
static int batch_output(struct batch *b, const struct model *m, struct model_ctx *c, const struct task_prepared *p,
                        float *xo, float *logits, int64_t max_rows, struct task_option_score *out)
{
    const struct model_hparams *hp = model_hparams(m);
    const int64_t d = hp->n_embd, V = hp->n_vocab, k0 = p->offset[b->i0];
    int64_t row_p = 0, i = b->i0;
    int rc = 0;
    while (i < b->i1 && !rc) {
        int64_t j = i, rows = 0, rp = row_p;
        for (; j < b->i1; j++) {   /* items i .. j-1 fit (at least one) */
            int64_t r = 1;
            for (int64_t k = p->offset[j]; k < p->offset[j + 1]; k++)
                r += b->seq_b[k - k0].n;
            if (j > i && rows + r > max_rows)
                break;
            const int64_t P = task_item_prefix(p, j);
            b->out_row[j - b->i0] = rows;
            memcpy(xo + rows * d, b->xp + (rp + P - 1) * d, sizeof(float) * (size_t)d);
            int64_t r_opt = rows + 1;
            for (int64_t k = p->offset[j]; k < p->offset[j + 1]; k++) {
                const int64_t nb = b->seq_b[k - k0].n;
                memcpy(xo + r_opt * d, b->xb + b->xb_off[k - k0] * d, sizeof(float) * (size_t)(nb * d));
                r_opt += nb;
            }
            rows += r;
            rp += P;
        }
        rc = model_output(m, c, xo, rows, logits);
        /* each option's scores from its rows, items side by side (each writes its own scores) */
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t it = i; it < (rc ? i : j); it++) {
            const int64_t P = task_item_prefix(p, it), cp = p->cp[it], first_row = b->out_row[it - b->i0];
            int64_t r_opt = first_row + 1;
            for (int64_t k = p->offset[it]; k < p->offset[it + 1]; k++) {
                const struct task_tokens *o = &p->opts[k];
                const int64_t first = (o->n_ctx < cp ? o->n_ctx : cp) - 1;
                task_score_rows(o, cp, V, logits + first_row * V, logits + r_opt * V, first, P, &out[k]);
                r_opt += b->seq_b[k - k0].n;
            }
        }
        row_p = rp;
        i = j;
    }
    return rc;
}

int task_score_streamed(struct model *m, const struct task_prepared *p, struct task_scores *out,
                        task_progress_fn progress, void *progress_ctx)
{
    const struct model_hparams *hp = model_hparams(m);
    const int64_t n_items = p->set->n_items;
    /* the scratch takes a whole block call (max_rows), the logits OUTPUT_ROWS rows; an item larger than
     * either goes alone, so both grow to the largest item */
    const int64_t max_rows = stream_rows(m, p);
    int64_t block_rows = max_rows, out_rows = OUTPUT_ROWS;
    for (int64_t i = 0; i < n_items; i++) {
        int64_t rp, rb, r = item_rows(p, i, &rp, &rb);
        block_rows = r > block_rows ? r : block_rows;
        out_rows = rb + 1 > out_rows ? rb + 1 : out_rows;
    }
    struct model_ctx *c = NULL;
    int rc = model_ctx_create(&c, m, block_rows > out_rows ? block_rows : out_rows);
    float *xo = rc ? NULL : ig_malloc(sizeof(float) * (size_t)(out_rows * hp->n_embd));
    float *logits = rc ? NULL : ig_malloc(sizeof(float) * (size_t)out_rows * (size_t)hp->n_vocab);
    if (!rc && (!xo || !logits))
        rc = IG_ENOMEM;
    for (int64_t i0 = 0; i0 < n_items && !rc;) {
        struct batch b = {0};
        batch_plan(p, i0, max_rows, &b);
        rc = batch_setup(&b, m, p);
        for (int64_t l = 0; l < hp->n_layer && !rc; l++) {
            rc = model_layer_load(m, l);
            rc = rc ? rc : batch_block(&b, m, c, p, l);
            model_layer_release(m, l);
        }
        rc = rc ? rc : batch_output(&b, m, c, p, xo, logits, out_rows, out->opt);
        i0 = b.i1;
        batch_free(&b);
        if (!rc && progress)
            progress(progress_ctx, i0, n_items);
    }
    free(xo);
    free(logits);
    model_ctx_destroy(c);
    return rc;
}
