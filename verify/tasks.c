/* tasks.c — tokenize task options once, then score them with any model (tasks.h).
 * Data flow: task_set (task_files.c) → task_prepared (here) → task_scores per model (here) →
 * accuracy, tiers and calibration (task_metrics.c) → paired statistics (paired.c).
 */
#include "tasks.h"

#include "prefix_forward.h"
#include "task_stream_impl.h"
#include "verify.h"

#include "../common/ig_error.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Items scored between progress reports. */
#define TASK_ITEMS_PER_BATCH 64

/* ---- tokenizing ------------------------------------------------------------------------------- */

static int tokenize_option(const struct tokenizer *tok, const struct task_set *set, const struct task_item *it,
                           int32_t j, struct task_tokens *o)
{
    const struct task_option *op = &it->options[j];
    size_t n_c = strlen(op->context), n_k = strlen(op->continuation);
    char *full = ig_malloc(n_c + n_k + 1);
    if (!full)
        return IG_ENOMEM;
    memcpy(full, op->context, n_c);
    memcpy(full + n_c, op->continuation, n_k + 1);
    int32_t *ctx_ids = NULL;
    int64_t n = tokenizer_encode(tok, full, n_c + n_k, 1, &o->ids);
    int64_t n_ctx = n >= 0 ? tokenizer_encode(tok, op->context, n_c, 1, &ctx_ids) : 0;
    free(full);
    free(ctx_ids);
    if (n < 0 || n_ctx < 0)
        return ig_error_wrap(n < 0 ? (int)n : (int)n_ctx, "task file %s:%lld: option %d", set->path,
                             (long long)it->line, (int)j);
    o->n = n;
    o->n_ctx = n_ctx < 1 ? 1 : n_ctx;   /* with no BOS and no context the first token has no predecessor */
    o->n_bytes = (int64_t)n_k;
    if (o->n_ctx >= n)
        return ig_error_set(IG_EINVAL, "task file %s:%lld: option %d: the continuation '%.60s' adds no token to its context",
                            set->path, (long long)it->line, (int)j, op->continuation);
    return 0;
}

/* llama-perplexity's common prefix of the item's options, kept below every option's length
 * (so each option scores at least one token) and at least 1 (the first token has no logit). */
static int64_t common_prefix(const struct task_tokens *o, int32_t n_options)
{
    int64_t cp = 0, min_n = o[0].n;
    for (int32_t j = 1; j < n_options; j++)
        min_n = o[j].n < min_n ? o[j].n : min_n;
    for (; cp < min_n; cp++) {
        int same = 1;
        for (int32_t j = 1; j < n_options && same; j++)
            same = o[j].ids[cp] == o[0].ids[cp];
        if (!same)
            break;
    }
    return cp >= min_n ? min_n - 1 : cp < 1 ? 1 : cp;
}

int task_prepare(struct task_prepared **out, const struct task_set *set, const struct tokenizer *tok)
{
    *out = NULL;
    struct task_prepared *p = ig_calloc(1, sizeof *p);
    if (!p)
        return IG_ENOMEM;
    p->set = set;
    p->offset = ig_malloc((size_t)(set->n_items + 1) * sizeof *p->offset);
    p->cp = ig_malloc((size_t)(set->n_items > 0 ? set->n_items : 1) * sizeof *p->cp);
    int rc = p->offset && p->cp ? 0 : IG_ENOMEM;
    if (!rc) {
        p->offset[0] = 0;
        for (int64_t i = 0; i < set->n_items; i++)
            p->offset[i + 1] = p->offset[i] + set->items[i].n_options;
        p->opts = ig_calloc((size_t)(p->offset[set->n_items] > 0 ? p->offset[set->n_items] : 1), sizeof *p->opts);
        rc = p->opts ? 0 : IG_ENOMEM;
    }
    for (int64_t i = 0; i < set->n_items && !rc; i++) {
        const struct task_item *it = &set->items[i];
        struct task_tokens *o = p->opts + p->offset[i];
        for (int32_t j = 0; j < it->n_options && !rc; j++) {
            rc = tokenize_option(tok, set, it, j, &o[j]);
            if (!rc && o[j].n > p->max_len)
                p->max_len = o[j].n;
        }
        if (!rc)
            p->cp[i] = it->n_options > 1 ? common_prefix(o, it->n_options) : o[0].n_ctx;
    }
    if (rc) {
        task_prepared_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void task_prepared_destroy(struct task_prepared *p)
{
    if (!p)
        return;
    for (int64_t k = 0; p->opts && k < p->offset[p->set->n_items]; k++)
        free(p->opts[k].ids);
    free(p->opts);
    free(p->offset);
    free(p->cp);
    free(p);
}

/* ---- scoring ------------------------------------------------------------------------------------ */

/* One thread's buffers: the shared-prefix evaluator and its logits. */
struct scorer {
    struct prefix_ctx *pctx;
    float *last;     /* [n_vocab] logits of the shared prefix's last row */
    float *logits;   /* [max_len][n_vocab] */
};

/* Accumulate option o's scores from its logits rows (task_stream_impl.h). */
void task_score_rows(const struct task_tokens *o, int64_t cp, int64_t n_vocab, const float *last, const float *rows,
                     int64_t first, int64_t rows_from, struct task_option_score *s)
{
    double sum = 0.0, cp_sum = 0.0;
    int greedy = 1;
    for (int64_t pos = first; pos < o->n - 1; pos++) {
        const float *row = pos < rows_from ? last : rows + (pos - rows_from) * n_vocab;
        const int32_t tok = o->ids[pos + 1];
        float max;
        double lse;
        verify_logsumexp(row, n_vocab, &max, &lse);
        double lp = (double)(row[tok] - max) - lse;
        if (pos + 1 >= o->n_ctx) {
            sum += lp;
            int64_t best = 0;
            for (int64_t v = 1; v < n_vocab; v++)
                if (row[v] > row[best])
                    best = v;
            greedy &= best == tok;
        }
        if (pos + 1 >= cp)
            cp_sum += lp;
    }
    s->ll_sum = sum;
    s->ll_cp_mean = cp_sum / (double)(o->n - cp);
    s->greedy = greedy;
}

int64_t task_item_prefix(const struct task_prepared *p, int64_t i)
{
    int64_t P = p->cp[i];
    for (int64_t k = p->offset[i]; k < p->offset[i + 1]; k++)
        P = p->opts[k].n_ctx < P ? p->opts[k].n_ctx : P;
    return P;
}

/* Score item i's options: the first P = min(cp, n_ctx of every option) tokens once (they are the
 * same in every option), then each option's rest over their cached keys and values. */
static int score_item(const struct model *m, struct scorer *w, const struct task_prepared *p, int64_t i,
                      struct task_option_score *out)
{
    const int64_t n_vocab = model_hparams(m)->n_vocab, cp = p->cp[i];
    const struct task_tokens *o = p->opts + p->offset[i];
    const int64_t k = p->offset[i + 1] - p->offset[i], P = task_item_prefix(p, i);
    int rc = prefix_eval(w->pctx, o[0].ids, P, w->last);
    for (int64_t j = 0; j < k && !rc; j++) {
        const int64_t first = (o[j].n_ctx < cp ? o[j].n_ctx : cp) - 1;
        rc = prefix_eval_branch(w->pctx, o[j].ids, P, o[j].n, w->logits);
        if (!rc)
            task_score_rows(&o[j], cp, n_vocab, w->last, w->logits, first, P, &out[j]);
    }
    return rc;
}

static int scorer_init(struct scorer *w, const struct model *m, int64_t max_len)
{
    const int64_t n_vocab = model_hparams(m)->n_vocab;
    w->logits = ig_malloc((size_t)max_len * (size_t)n_vocab * sizeof *w->logits);
    w->last = ig_malloc((size_t)n_vocab * sizeof *w->last);
    if (!w->logits || !w->last)
        return IG_ENOMEM;
    return prefix_ctx_create(&w->pctx, m, max_len + 1);
}

static void scorer_free(struct scorer *w)
{
    prefix_ctx_destroy(w->pctx);
    free(w->logits);
    free(w->last);
}

/* Every block loaded for the whole per-item scoring (a streamed model's; a resident model's are
 * already), so the threads share the model read-only. Returns 0 or model_layer_load's error, with what it loaded released. */
static int load_blocks(struct model *m)
{
    const int64_t n_layer = model_hparams(m)->n_layer;
    int rc = 0;
    for (int64_t l = 0; l < n_layer && !rc; l++)
        rc = model_layer_load(m, l);
    for (int64_t l = 0; l < n_layer && rc; l++)
        model_layer_release(m, l);
    return rc;
}

/* Give back what load_blocks loaded (nothing on a resident model). */
static void release_blocks(struct model *m)
{
    for (int64_t l = 0; l < model_hparams(m)->n_layer; l++)
        model_layer_release(m, l);
}

int task_score_model(struct model *m, const struct task_prepared *p, struct task_scores *out,
                     task_progress_fn progress, void *progress_ctx)
{
    const int64_t n_items = p->set->n_items;
    out->n_opts = p->offset[n_items];
    out->opt = ig_calloc((size_t)(out->n_opts > 0 ? out->n_opts : 1), sizeof *out->opt);
    if (!out->opt)
        return IG_ENOMEM;
    if (model_is_packed(m)) {   /* block by block: each block's pages once per batch of items */
        int rc = task_score_streamed(m, p, out, progress, progress_ctx);
        if (rc)
            task_scores_free(out);
        return rc;
    }
    int rc = load_blocks(m);
    if (rc) {
        task_scores_free(out);
        return rc;
    }
    int n_threads = omp_get_max_threads();
    struct ig_par_error err;
    ig_par_error_init(&err);
#pragma omp parallel num_threads(n_threads)
    {
        struct scorer w = {0};
        const int rc_init = scorer_init(&w, m, p->max_len);
        if (rc_init)
            ig_par_error_record(&err, -1, rc_init);
        for (int64_t i0 = 0; i0 < n_items; i0 += TASK_ITEMS_PER_BATCH) {
            int64_t i1 = i0 + TASK_ITEMS_PER_BATCH < n_items ? i0 + TASK_ITEMS_PER_BATCH : n_items;
#pragma omp for schedule(dynamic, 1)
            for (int64_t i = i0; i < i1; i++) {
                int e = rc_init;
                if (!e && !ig_par_error_skip(&err, i) && (e = score_item(m, &w, p, i, out->opt + p->offset[i])))
                    ig_par_error_record(&err, i, e);
            }
#pragma omp master
            if (progress)
                progress(progress_ctx, i1, n_items);
        }
        scorer_free(&w);
    }
    release_blocks(m);
    rc = ig_par_error_raise(&err);
    if (rc)
        task_scores_free(out);
    return rc;
}

void task_scores_free(struct task_scores *s)
{
    free(s->opt);
    s->opt = NULL;
    s->n_opts = 0;
}
