/* task_metrics.c — accuracy (three scorings), classification F1, calibration and tiers for one
 * model on one task (definitions in task_metrics.h). Serial and in item order: the figures do
 * not depend on the thread count that produced the scores.
 */
#include "task_metrics.h"

#include "../common/ig_error.h"

#include <stdlib.h>
#include <string.h>

/* ---- scores and predictions ------------------------------------------------------------------ */

static double option_score(const struct task_prepared *p, const struct task_scores *s, int64_t k, enum task_metric m)
{
    switch (m) {
    case TASK_METRIC_ACC_NORM: return s->opt[k].ll_cp_mean;
    case TASK_METRIC_ACC_NORM_BYTES: return s->opt[k].ll_sum / (double)(p->opts[k].n_bytes > 0 ? p->opts[k].n_bytes : 1);
    default: return s->opt[k].ll_sum;
    }
}

/* The first argmax of item i's options under metric m. */
static int32_t predict(const struct task_prepared *p, const struct task_scores *s, int64_t i, enum task_metric m)
{
    int32_t best = 0;
    double best_s = option_score(p, s, p->offset[i], m);
    for (int64_t k = p->offset[i] + 1; k < p->offset[i + 1]; k++) {
        double v = option_score(p, s, k, m);
        if (v > best_s)
            best = (int32_t)(k - p->offset[i]), best_s = v;
    }
    return best;
}

static double accuracy(const struct task_prepared *p, const struct task_scores *s, enum task_metric m)
{
    const struct task_set *t = p->set;
    int64_t right = 0;
    for (int64_t i = 0; i < t->n_items; i++)
        right += t->items[i].n_options == 1 ? s->opt[p->offset[i]].greedy : predict(p, s, i, m) == t->items[i].gold;
    return t->n_items ? (double)right / (double)t->n_items : 0.0;
}

/* ---- classification ---------------------------------------------------------------------------- */

static int class_f1(const struct task_set *t, struct task_figures *f)
{
    const int32_t L = t->n_labels;
    int64_t *tp = ig_calloc((size_t)L * 3, sizeof *tp);
    f->class_f1 = ig_calloc((size_t)L, sizeof *f->class_f1);
    f->class_f1_valid = ig_calloc((size_t)L, 1);
    f->class_support = ig_calloc((size_t)L, sizeof *f->class_support);
    if (!tp || !f->class_f1 || !f->class_f1_valid || !f->class_support) {
        free(tp);
        return IG_ENOMEM;
    }
    int64_t *fp = tp + L, *fn = tp + 2 * L;
    for (int64_t i = 0; i < t->n_items; i++) {
        int32_t g = t->items[i].gold, q = f->pred[i];
        f->class_support[g]++;
        if (q == g)
            tp[g]++;
        else
            fp[q]++, fn[g]++;
    }
    double sum = 0.0;
    int32_t n_valid = 0;
    for (int32_t c = 0; c < L; c++) {
        int64_t den = 2 * tp[c] + fp[c] + fn[c];
        if (den == 0)
            continue;
        f->class_f1[c] = 2.0 * (double)tp[c] / (double)den;
        f->class_f1_valid[c] = 1;
        sum += f->class_f1[c];
        n_valid++;
    }
    f->n_labels = L;
    f->has_macro_f1 = n_valid > 0;
    f->macro_f1 = n_valid ? sum / n_valid : 0.0;
    free(tp);
    return 0;
}

/* ---- one model ---------------------------------------------------------------------------------- */

int task_figures_compute(const struct task_prepared *p, const struct task_scores *s, uint32_t seed,
                         struct task_figures *f)
{
    const struct task_set *t = p->set;
    const int64_t n = t->n_items, n_opts = p->offset[n];
    memset(f, 0, sizeof *f);
    f->n = n;
    f->has_choices = n > 0;
    for (int64_t i = 0; i < n; i++)
        f->has_choices &= t->items[i].n_options >= 2;
    f->metric = t->kind == TASK_KIND_HELLASWAG ? TASK_METRIC_ACC_NORM : TASK_METRIC_ACC;
    f->pred = ig_malloc((size_t)(n > 0 ? n : 1) * sizeof *f->pred);
    f->correct = ig_malloc((size_t)(n > 0 ? n : 1));
    f->score = ig_malloc((size_t)(n_opts > 0 ? n_opts : 1) * sizeof *f->score);
    int32_t *gold = ig_malloc((size_t)(n > 0 ? n : 1) * sizeof *gold);
    int rc = f->pred && f->correct && f->score && gold ? 0 : IG_ENOMEM;
    for (int64_t k = 0; k < n_opts && !rc; k++)
        f->score[k] = option_score(p, s, k, f->metric);
    for (int64_t i = 0; i < n && !rc; i++) {
        gold[i] = t->items[i].gold;
        f->pred[i] = predict(p, s, i, f->metric);
        f->correct[i] = t->items[i].n_options == 1 ? (uint8_t)s->opt[p->offset[i]].greedy : f->pred[i] == gold[i];
    }
    if (!rc) {
        f->acc = accuracy(p, s, TASK_METRIC_ACC);
        f->acc_norm = accuracy(p, s, TASK_METRIC_ACC_NORM);
        f->acc_norm_bytes = accuracy(p, s, TASK_METRIC_ACC_NORM_BYTES);
        f->primary = f->metric == TASK_METRIC_ACC_NORM ? f->acc_norm : f->acc;
    }
    if (!rc && t->n_labels > 0)
        rc = class_f1(t, f);
    if (!rc && f->has_choices) {
        struct calib_items it = {.n = n, .offset = p->offset, .scores = f->score, .gold = gold};
        rc = calib_report_compute(&it, seed, &f->calib);
    }
    free(gold);
    return rc;
}

void task_figures_free(struct task_figures *f)
{
    free(f->pred);
    free(f->correct);
    free(f->score);
    free(f->class_f1);
    free(f->class_f1_valid);
    free(f->class_support);
    memset(f, 0, sizeof *f);
}

const char *task_metric_name(enum task_metric m)
{
    return m == TASK_METRIC_ACC_NORM ? "acc_norm" : m == TASK_METRIC_ACC_NORM_BYTES ? "acc_norm_bytes" : "acc";
}

/* ---- tiers ------------------------------------------------------------------------------------- */

struct cat_count {
    int64_t count, id;
};

static int by_count(const void *pa, const void *pb)
{
    const struct cat_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int task_tiers_build(const struct task_set *set, int64_t n_head, int64_t n_mid, struct task_tiers *out)
{
    memset(out, 0, sizeof *out);
    const int64_t C = set->n_categories, n = set->n_items;
    struct cat_count *cc = ig_calloc((size_t)(C > 0 ? C : 1), sizeof *cc);
    out->tier_of_category = ig_malloc((size_t)(C > 0 ? C : 1) * sizeof *out->tier_of_category);
    int rc = cc && out->tier_of_category ? 0 : IG_ENOMEM;
    for (int k = 0; k < TASK_N_TIERS && !rc; k++)
        rc = (out->items[k] = ig_malloc((size_t)(n > 0 ? n : 1) * sizeof *out->items[k])) ? 0 : IG_ENOMEM;
    if (!rc) {
        for (int64_t c = 0; c < C; c++)
            cc[c].id = c;
        for (int64_t i = 0; i < n; i++)
            if (set->items[i].category >= 0)
                cc[set->items[i].category].count++;
        qsort(cc, (size_t)C, sizeof *cc, by_count);
        for (int64_t r = 0; r < C; r++) {
            int tier = r < n_head ? 0 : r < n_head + n_mid ? 1 : 2;
            out->tier_of_category[cc[r].id] = tier;
            out->n_categories[tier] += cc[r].count > 0;
        }
        for (int64_t i = 0; i < n; i++) {
            int32_t c = set->items[i].category;
            if (c >= 0) {
                int tier = out->tier_of_category[c];
                out->items[tier][out->n_items[tier]++] = i;
            }
        }
    }
    free(cc);
    if (rc)
        task_tiers_free(out);
    return rc;
}

void task_tiers_free(struct task_tiers *t)
{
    for (int k = 0; k < TASK_N_TIERS; k++)
        free(t->items[k]);
    free(t->tier_of_category);
    memset(t, 0, sizeof *t);
}

const char *task_tier_name(int k)
{
    return k == 0 ? "head" : k == 1 ? "mid" : "tail";
}
