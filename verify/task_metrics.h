/* task_metrics.h — one model's figures on one task, from its option scores (tasks.h), and the
 * tiers that show where a container's damage lands.
 *
 * Per item, the prediction is the first argmax of the option scores:
 *   acc             lm-eval's acc: score = ll_sum (LAMBADA: correct when greedy)
 *   acc_norm        llama-perplexity's HellaSwag acc_norm: score = ll_cp_mean
 *   acc_norm_bytes  lm-eval's acc_norm: score = ll_sum / continuation bytes
 * The primary metric — the one paired statistics, tiers and calibration use — is acc_norm for
 * HellaSwag (as llama-perplexity reports it) and acc for every other kind.
 * Classification adds per-class F1 = 2·tp / (2·tp + fp + fn) (undefined when the class is neither
 * gold nor predicted) and macro-F1, the mean of the defined per-class F1.
 * Tiers: categories ranked by item count (ties: first appearance in the file), the first n_head
 * are "head", the next n_mid "mid", the rest "tail"; items without a category are in no tier.
 */
#ifndef VERIFY_TASK_METRICS_H
#define VERIFY_TASK_METRICS_H

#include "calibration.h"
#include "tasks.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum task_metric {
    TASK_METRIC_ACC = 0,
    TASK_METRIC_ACC_NORM = 1,
    TASK_METRIC_ACC_NORM_BYTES = 2,
};

struct task_figures {
    int64_t n;                    /* items */
    enum task_metric metric;      /* the primary one */
    int has_choices;              /* every item has >= 2 options: acc_norm*, calibration exist */
    double acc, acc_norm, acc_norm_bytes;   /* fractions; acc_norm* valid when has_choices */
    double primary;               /* the primary metric's value */
    int32_t *pred;                /* [n] predicted option by the primary score */
    uint8_t *correct;             /* [n] by the primary score */
    double *score;                /* [offset[n]] the primary score of every option */
    /* classification (n_labels > 0) */
    int32_t n_labels;
    double macro_f1;              /* valid when has_macro_f1 */
    int has_macro_f1;
    double *class_f1;             /* [n_labels] */
    uint8_t *class_f1_valid;      /* [n_labels] */
    int64_t *class_support;       /* [n_labels] gold items per label */
    /* calibration of the primary score (has_choices) */
    struct calib_report calib;
};

/* Figures of scores s on prepared set p; seed picks calibration's halves. Returns 0 or IG_ENOMEM. */
int task_figures_compute(const struct task_prepared *p, const struct task_scores *s, uint32_t seed,
                         struct task_figures *out);
void task_figures_free(struct task_figures *f);

/* "acc", "acc_norm", "acc_norm_bytes". */
const char *task_metric_name(enum task_metric m);

#define TASK_N_TIERS 3

struct task_tiers {
    int64_t n_items[TASK_N_TIERS];        /* head, mid, tail */
    int64_t *items[TASK_N_TIERS];         /* [n_items[k]] item indices in item order */
    int64_t n_categories[TASK_N_TIERS];
    int32_t *tier_of_category;            /* [set->n_categories] 0, 1, 2 */
};

/* Build the tiers of set (n_head, n_mid >= 0). Returns 0 or IG_ENOMEM. */
int task_tiers_build(const struct task_set *set, int64_t n_head, int64_t n_mid, struct task_tiers *out);
void task_tiers_free(struct task_tiers *t);

/* "head", "mid", "tail". */
const char *task_tier_name(int k);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_TASK_METRICS_H */
