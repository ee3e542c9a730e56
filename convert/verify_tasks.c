/* verify_tasks.c — `ingot verify --tasks ...`: load the tasks, score the source once and every
 * container on the same items, and report accuracy, paired statistics (Δ with a bootstrap CI,
 * flips, McNemar, a verdict), calibration and tiers as a table, JSON, per-item JSON lines and
 * Markdown. The figures come from verify/; this file lays them out (verify_tasks.h).
 */
#include "verify_tasks.h"

#include "cli.h"

#include "../common/ig_error.h"
#include "../model/llama.h"
#include "../tokenizer/tokenize.h"
#include "../verify/paired.h"
#include "../verify/task_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Everything about one task: the items, and per model (0 = source, 1.. = containers) the scores
 * and figures; per container the paired comparison, overall and per tier. */
struct task_run {
    struct task_set *set;
    struct task_prepared *prep;
    char name[128];
    int n_models;
    struct task_scores *scores;          /* [n_models] */
    struct task_figures *fig;            /* [n_models] */
    double *seconds;                     /* [n_models] scoring time */
    int has_tiers;
    struct task_tiers tiers;
    struct paired_result *paired;        /* [n_models][1 + TASK_N_TIERS]; row 0 unused */
};

void verify_tasks_opts_default(struct verify_tasks_opts *o)
{
    o->task_limit = 0;
    o->n_bootstrap = 1000;
    o->seed = 1;
    o->min_flips = 10;
    o->tier_head = 20;
    o->tier_mid = 40;
    o->items_path = NULL;
    o->md_path = NULL;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- running -------------------------------------------------------------------------------- */

static int load_task(struct task_run *r, const char *spec, const struct verify_tasks_opts *o,
                     const struct tokenizer *tok, struct task_run *earlier, int n_earlier)
{
    int rc = task_set_load(&r->set, spec);
    if (rc)
        return rc;
    task_set_select(r->set, o->task_limit);
    snprintf(r->name, sizeof r->name, "%s", r->set->name);
    for (int k = 2, clash = 1; clash; k++) {   /* the same file twice: name_2, name_3, ... */
        clash = 0;
        for (int i = 0; i < n_earlier && !clash; i++)
            clash = strcmp(earlier[i].name, r->name) == 0;
        if (clash)
            snprintf(r->name, sizeof r->name, "%.100s_%d", r->set->name, k);
    }
    return task_prepare(&r->prep, r->set, tok);
}

/* Progress per batch of items (progress_show limits how often it draws). */
static void progress_items(void *ctx, int64_t done, int64_t total)
{
    struct progress *p = ctx;
    char label[64];
    snprintf(label, sizeof label, "%lld items", (long long)total);
    p->done = done;
    progress_show(p, (double)done, label);
}

static int score_task(struct task_run *r, const struct verify_tasks_opts *o, const struct verify_tasks_model *models,
                      int n_models)
{
    r->n_models = n_models;
    r->scores = ig_calloc((size_t)n_models, sizeof *r->scores);
    r->fig = ig_calloc((size_t)n_models, sizeof *r->fig);
    r->seconds = ig_calloc((size_t)n_models, sizeof *r->seconds);
    r->paired = ig_calloc((size_t)n_models * (1 + TASK_N_TIERS), sizeof *r->paired);
    if (!r->scores || !r->fig || !r->seconds || !r->paired)
        return IG_ENOMEM;
    int rc = 0;
    for (int m = 0; m < n_models && !rc; m++) {
        struct progress prog;
        progress_begin(&prog, r->set->n_items, o->quiet);
        rc = task_score_model(models[m].model, r->prep, &r->scores[m], progress_items, &prog);
        r->seconds[m] = progress_end(&prog);
        if (rc)
            return ig_error_wrap(rc, "task %s, model %s", r->name, models[m].path);
        rc = task_figures_compute(r->prep, &r->scores[m], o->seed, &r->fig[m]);
    }
    if (!rc && r->set->n_categories > 0) {
        rc = task_tiers_build(r->set, o->tier_head, o->tier_mid, &r->tiers);
        r->has_tiers = rc == 0;
    }
    struct paired_opts po = {.n_bootstrap = o->n_bootstrap, .seed = o->seed, .min_flips = o->min_flips};
    for (int m = 1; m < n_models && !rc; m++) {
        struct paired_result *p = &r->paired[m * (1 + TASK_N_TIERS)];
        rc = paired_compare(r->fig[0].correct, r->fig[m].correct, NULL, r->set->n_items, &po, &p[0]);
        for (int k = 0; k < TASK_N_TIERS && r->has_tiers && !rc; k++)
            rc = paired_compare(r->fig[0].correct, r->fig[m].correct, r->tiers.items[k], r->tiers.n_items[k], &po,
                                &p[1 + k]);
    }
    return rc;
}

static void free_task(struct task_run *r)
{
    for (int m = 0; m < r->n_models; m++) {
        if (r->scores)
            task_scores_free(&r->scores[m]);
        if (r->fig)
            task_figures_free(&r->fig[m]);
    }
    free(r->scores);
    free(r->fig);
    free(r->seconds);
    free(r->paired);
    if (r->has_tiers)
        task_tiers_free(&r->tiers);
    task_prepared_destroy(r->prep);
    task_set_destroy(r->set);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static json_t *num_if(int valid, double x)
{
    return valid ? cli_json_number(x) : json_null();
}

static json_t *bins_json(const struct calib_ece *e)
{
    json_t *a = json_array();
    for (int m = 0; m < CALIB_N_BINS; m++) {
        const struct calib_bin *b = &e->bins[m];
        json_array_append_new(a, json_pack("{s:f, s:f, s:I, s:o, s:o}", "lo", b->lo, "hi", b->hi, "count",
                                           (json_int_t)b->count, "conf_mean", num_if(b->count > 0, b->conf_mean),
                                           "acc", num_if(b->count > 0, b->acc)));
    }
    return a;
}

static void add_calibration(json_t *j, const struct task_figures *f)
{
    const struct calib_report *c = &f->calib;
    const int ok = f->has_choices, ok_b = ok && c->ece_b.n > 0, ok_a = ok && c->fit_a.n > 0;
    json_object_set_new(j, "ece", num_if(ok, c->ece.ece));
    json_object_set_new(j, "ece_post_t", num_if(ok, c->ece_post_t.ece));
    json_object_set_new(j, "temperature", num_if(ok, c->fit_all.T));
    json_object_set_new(j, "temperature_at_bound", ok ? json_boolean(c->fit_all.at_bound) : json_null());
    json_object_set_new(j, "nll", num_if(ok, c->fit_all.nll_at_1));
    json_object_set_new(j, "nll_post_t", num_if(ok, c->fit_all.nll_at_T));
    json_object_set_new(j, "temperature_half_a", num_if(ok_a, c->fit_a.T));
    json_object_set_new(j, "temperature_half_a_at_bound", ok_a ? json_boolean(c->fit_a.at_bound) : json_null());
    json_object_set_new(j, "ece_half_b", num_if(ok_b, c->ece_b.ece));
    json_object_set_new(j, "ece_half_b_post_t", num_if(ok_b && ok_a, c->ece_b_post_t.ece));
    json_object_set_new(j, "n_half_a", ok ? json_integer(c->fit_a.n) : json_null());
    json_object_set_new(j, "n_half_b", ok ? json_integer(c->ece_b.n) : json_null());
    json_object_set_new(j, "reliability", ok ? bins_json(&c->ece) : json_null());
    json_object_set_new(j, "reliability_post_t", ok ? bins_json(&c->ece_post_t) : json_null());
}

static json_t *figures_json(const struct task_set *t, const struct task_figures *f)
{
    json_t *j = json_object();
    json_object_set_new(j, "n_items", json_integer(f->n));
    /* "acc" is the primary metric's accuracy, the one delta_acc, the verdict, tiers and
     * calibration refer to ("metric" names it); the three scorings follow under their own names */
    json_object_set_new(j, "metric", json_string(task_metric_name(f->metric)));
    json_object_set_new(j, "acc", num_if(f->n > 0, f->primary));
    json_object_set_new(j, "acc_lm_eval", num_if(f->n > 0, f->acc));
    json_object_set_new(j, "acc_norm", num_if(f->has_choices, f->acc_norm));
    json_object_set_new(j, "acc_norm_lm_eval", num_if(f->has_choices, f->acc_norm_bytes));
    if (t->n_labels > 0) {
        json_t *per = json_object(), *support = json_object();
        for (int32_t c = 0; c < t->n_labels; c++) {
            json_object_set_new(per, t->labels[c], num_if(f->class_f1_valid[c], f->class_f1[c]));
            json_object_set_new(support, t->labels[c], json_integer(f->class_support[c]));
        }
        json_object_set_new(j, "macro_f1", num_if(f->has_macro_f1, f->macro_f1));
        json_object_set_new(j, "class_f1", per);
        json_object_set_new(j, "class_support", support);
    } else {
        json_object_set_new(j, "macro_f1", json_null());
        json_object_set_new(j, "class_f1", json_null());
    }
    add_calibration(j, f);
    return j;
}

static void add_paired(json_t *j, const struct paired_result *p)
{
    json_object_set_new(j, "delta_acc", num_if(p->n > 0, p->delta));
    json_object_set_new(j, "delta_acc_ci_low", num_if(p->has_ci, p->ci_low));
    json_object_set_new(j, "delta_acc_ci_high", num_if(p->has_ci, p->ci_high));
    json_object_set_new(j, "flips_right_to_wrong", json_integer(p->right_to_wrong));
    json_object_set_new(j, "flips_wrong_to_right", json_integer(p->wrong_to_right));
    json_object_set_new(j, "mcnemar_p", num_if(p->n > 0, p->mcnemar_p));
    json_object_set_new(j, "verdict", p->n > 0 ? json_string(paired_verdict_name(p->verdict)) : json_null());
}

static json_t *container_tiers_json(const struct task_run *r, int m)
{
    json_t *j = json_object();
    for (int k = 0; k < TASK_N_TIERS; k++) {
        const struct paired_result *p = &r->paired[m * (1 + TASK_N_TIERS) + 1 + k];
        json_t *t = json_object();
        json_object_set_new(t, "n_items", json_integer(p->n));
        json_object_set_new(t, "n_categories", json_integer(r->tiers.n_categories[k]));
        json_object_set_new(t, "acc_source", num_if(p->n > 0, p->acc_a));
        json_object_set_new(t, "acc", num_if(p->n > 0, p->acc_b));
        add_paired(t, p);
        json_object_set_new(j, task_tier_name(k), t);
    }
    return j;
}

static json_t *task_tiers_json(const struct task_run *r, const struct verify_tasks_opts *o)
{
    json_t *j = json_pack("{s:I, s:I}", "head_categories", (json_int_t)o->tier_head, "mid_categories",
                          (json_int_t)o->tier_mid);
    for (int k = 0; k < TASK_N_TIERS; k++) {
        json_t *names = json_array();
        for (int64_t c = 0; c < r->set->n_categories; c++)
            if (r->tiers.tier_of_category[c] == k)
                json_array_append_new(names, json_string(r->set->categories[c]));
        json_object_set_new(j, task_tier_name(k),
                            json_pack("{s:I, s:I, s:o}", "n_items", (json_int_t)r->tiers.n_items[k], "n_categories",
                                      (json_int_t)r->tiers.n_categories[k], "categories", names));
    }
    return j;
}

static json_t *task_json(const struct task_run *r, const struct verify_tasks_opts *o,
                         const struct verify_tasks_model *models, json_t **container_json)
{
    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(r->set->path));
    json_object_set_new(j, "kind", json_string(task_kind_name(r->set->kind)));
    json_object_set_new(j, "schema", json_string(r->set->schema));
    json_object_set_new(j, "n_items", json_integer(r->set->n_items));
    json_object_set_new(j, "task_limit", o->task_limit > 0 ? json_integer(o->task_limit) : json_null());
    json_object_set_new(j, "metric", json_string(task_metric_name(r->fig[0].metric)));
    json_object_set_new(j, "bootstrap", json_integer(o->n_bootstrap));
    json_object_set_new(j, "seed", json_integer(o->seed));
    json_object_set_new(j, "min_flips", json_integer(o->min_flips));
    json_object_set_new(j, "tiers", r->has_tiers ? task_tiers_json(r, o) : json_null());
    json_t *src = figures_json(r->set, &r->fig[0]);
    json_object_set_new(src, "file", json_string(models[0].path));
    json_object_set_new(src, "seconds", json_real(r->seconds[0]));
    json_object_set_new(j, "source", src);
    json_t *cs = json_array();
    for (int m = 1; m < r->n_models; m++) {
        json_t *c = figures_json(r->set, &r->fig[m]);
        json_object_set_new(c, "file", json_string(models[m].path));
        json_object_set_new(c, "seconds", json_real(r->seconds[m]));
        add_paired(c, &r->paired[m * (1 + TASK_N_TIERS)]);
        json_object_set_new(c, "tiers", r->has_tiers ? container_tiers_json(r, m) : json_null());
        json_array_append(cs, c);
        if (container_json && container_json[m - 1]) {
            json_t *tasks = json_object_get(container_json[m - 1], "tasks");
            if (!tasks)
                json_object_set_new(container_json[m - 1], "tasks", tasks = json_object());
            json_object_set(tasks, r->name, c);
        }
        json_decref(c);
    }
    json_object_set_new(j, "containers", cs);
    return j;
}

/* ---- the table ---------------------------------------------------------------------------------- */

static void fmt_pct(char *b, size_t n, int valid, double x)
{
    if (valid)
        snprintf(b, n, "%.2f%%", 100.0 * x);
    else
        snprintf(b, n, "-");
}

static void print_row(FILE *f, const char *label, const struct task_figures *fig, const struct paired_result *p)
{
    char acc[16], d[16] = "", ci[40] = "", ece[16] = "-", ece_t[16] = "-", T[16] = "-";
    fmt_pct(acc, sizeof acc, fig->n > 0, fig->primary);
    if (p && p->n > 0)
        snprintf(d, sizeof d, "%+.2f", 100.0 * p->delta);
    if (p && p->has_ci)
        snprintf(ci, sizeof ci, "[%+.2f, %+.2f]", 100.0 * p->ci_low, 100.0 * p->ci_high);
    if (fig->has_choices) {
        snprintf(ece, sizeof ece, "%.4f", fig->calib.ece.ece);
        snprintf(ece_t, sizeof ece_t, "%.4f", fig->calib.ece_b_post_t.ece);
        snprintf(T, sizeof T, "%.3f%s", fig->calib.fit_all.T, fig->calib.fit_all.at_bound ? "*" : "");
    }
    if (p)
        fprintf(f, "%-30.30s %8s %7s %-17s %5lld %5lld %9.4g %-12s %7s %8s %7s\n", label, acc, d, ci,
                (long long)p->right_to_wrong, (long long)p->wrong_to_right, p->mcnemar_p,
                paired_verdict_name(p->verdict), ece, ece_t, T);
    else
        fprintf(f, "%-30.30s %8s %7s %-17s %5s %5s %9s %-12s %7s %8s %7s\n", label, acc, "", "", "", "", "", "", ece,
                ece_t, T);
}

static void print_task(FILE *f, const struct task_run *r, const struct verify_tasks_model *models)
{
    const struct task_figures *s = &r->fig[0];
    fprintf(f, "\ntask %s: %s, %lld items, %s", r->name, task_kind_name(r->set->kind), (long long)r->set->n_items,
            task_metric_name(s->metric));
    if (s->has_choices)
        fprintf(f, " (source: lm-eval acc %.2f%%, acc_norm %.2f%% (per byte); llama-perplexity acc_norm %.2f%%)",
                100 * s->acc, 100 * s->acc_norm_bytes, 100 * s->acc_norm);
    if (s->has_macro_f1)
        fprintf(f, ", source macro-F1 %.4f", s->macro_f1);
    fprintf(f, "\n%-30s %8s %7s %-17s %5s %5s %9s %-12s %7s %8s %7s\n", "model", task_metric_name(s->metric), "Δ pts",
            "95% CI (pts)", "r→w", "w→r", "McNemar p", "verdict", "ECE", "ECE@T(B)", "T");
    char label[64];
    snprintf(label, sizeof label, "source %s", base(models[0].path));
    print_row(f, label, s, NULL);
    for (int m = 1; m < r->n_models; m++) {
        print_row(f, base(models[m].path), &r->fig[m], &r->paired[m * (1 + TASK_N_TIERS)]);
        for (int k = 0; k < TASK_N_TIERS && r->has_tiers; k++) {
            const struct paired_result *p = &r->paired[m * (1 + TASK_N_TIERS) + 1 + k];
            if (p->n == 0)
                continue;
            fprintf(f, "  %-4s %4lld cat %5lld items: %6.2f%% → %6.2f%%  Δ %+.2f", task_tier_name(k),
                    (long long)r->tiers.n_categories[k], (long long)p->n, 100 * p->acc_a, 100 * p->acc_b,
                    100 * p->delta);
            if (p->has_ci)
                fprintf(f, " [%+.2f, %+.2f]", 100 * p->ci_low, 100 * p->ci_high);
            fprintf(f, "  flips %lld/%lld  p %.4g  %s\n", (long long)p->right_to_wrong, (long long)p->wrong_to_right,
                    p->mcnemar_p, paired_verdict_name(p->verdict));
        }
    }
    if (s->has_choices)
        fprintf(f, "(ECE: 15 bins, T = 1; ECE@T(B): half B at the T fit on half A; T fit on all items, * at a bound of [%g, %g])\n",
                CALIB_T_MIN, CALIB_T_MAX);
}

/* ---- per-item records and Markdown ----------------------------------------------------------------- */

static json_t *item_model_json(const struct task_run *r, int m, int64_t i)
{
    json_t *scores = json_array(), *ll = json_array();
    for (int64_t k = r->prep->offset[i]; k < r->prep->offset[i + 1]; k++) {
        json_array_append_new(scores, cli_json_number(r->fig[m].score[k]));
        json_array_append_new(ll, cli_json_number(r->scores[m].opt[k].ll_sum));
    }
    return json_pack("{s:o, s:o, s:i, s:b}", "scores", scores, "ll_sum", ll, "pred", (int)r->fig[m].pred[i], "correct",
                     (int)r->fig[m].correct[i]);
}

static int write_items(FILE *f, const struct task_run *r, const struct verify_tasks_model *models)
{
    for (int64_t i = 0; i < r->set->n_items; i++) {
        const struct task_item *it = &r->set->items[i];
        json_t *cs = json_array();
        for (int m = 1; m < r->n_models; m++) {
            json_t *c = item_model_json(r, m, i);
            json_object_set_new(c, "file", json_string(models[m].path));
            json_array_append_new(cs, c);
        }
        json_t *j = json_pack("{s:s, s:I, s:I, s:o, s:i, s:o, s:o}", "task", r->name, "item", (json_int_t)it->index,
                              "line", (json_int_t)it->line, "category",
                              it->category >= 0 ? json_string(r->set->categories[it->category]) : json_null(), "gold",
                              (int)it->gold, "source", item_model_json(r, 0, i), "containers", cs);
        int rc = j ? json_dumpf(j, f, JSON_COMPACT | JSON_PRESERVE_ORDER) : -1;
        json_decref(j);
        if (rc != 0 || fputc('\n', f) == EOF)
            return IG_EIO;
    }
    return 0;
}

static void md_cell_pct(FILE *f, int valid, double x)
{
    if (valid)
        fprintf(f, " %.2f |", 100.0 * x);
    else
        fprintf(f, " – |");
}

static void write_md_task(FILE *f, const struct task_run *r, const struct verify_tasks_model *models,
                          const struct verify_tasks_opts *o)
{
    const struct task_figures *s = &r->fig[0];
    fprintf(f, "\n## %s\n\n%s, %lld items, metric %s; bootstrap %lld resamples (seed %u), \"real\" needs >= %lld flips.\n\n",
            r->name, task_kind_name(r->set->kind), (long long)r->set->n_items, task_metric_name(s->metric),
            (long long)o->n_bootstrap, o->seed, (long long)o->min_flips);
    fprintf(f, "| model | %s %% | Δ pts | 95%% CI | right→wrong | wrong→right | McNemar p | verdict | ECE | ECE after T (half B) | T |\n",
            task_metric_name(s->metric));
    fprintf(f, "|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|\n");
    for (int m = 0; m < r->n_models; m++) {
        const struct task_figures *q = &r->fig[m];
        const struct paired_result *p = m ? &r->paired[m * (1 + TASK_N_TIERS)] : NULL;
        fprintf(f, "| %s%s |", m ? "" : "source ", base(models[m].path));
        md_cell_pct(f, q->n > 0, q->primary);
        if (p) {
            fprintf(f, " %+.2f |", 100 * p->delta);
            if (p->has_ci)
                fprintf(f, " [%+.2f, %+.2f] |", 100 * p->ci_low, 100 * p->ci_high);
            else
                fprintf(f, " – |");
            fprintf(f, " %lld | %lld | %.4g | %s |", (long long)p->right_to_wrong, (long long)p->wrong_to_right,
                    p->mcnemar_p, paired_verdict_name(p->verdict));
        } else {
            fprintf(f, " | | | | | |");
        }
        if (q->has_choices)
            fprintf(f, " %.4f | %.4f | %.3f%s |\n", q->calib.ece.ece, q->calib.ece_b_post_t.ece, q->calib.fit_all.T,
                    q->calib.fit_all.at_bound ? " (bound)" : "");
        else
            fprintf(f, " – | – | – |\n");
    }
    if (!r->has_tiers || r->n_models < 2)
        return;
    fprintf(f, "\n| container | tier | categories | items | source %% | container %% | Δ pts | 95%% CI | flips r→w / w→r | verdict |\n");
    fprintf(f, "|---|---|---:|---:|---:|---:|---:|---|---|---|\n");
    for (int m = 1; m < r->n_models; m++)
        for (int k = 0; k < TASK_N_TIERS; k++) {
            const struct paired_result *p = &r->paired[m * (1 + TASK_N_TIERS) + 1 + k];
            fprintf(f, "| %s | %s | %lld | %lld |", base(models[m].path), task_tier_name(k),
                    (long long)r->tiers.n_categories[k], (long long)p->n);
            md_cell_pct(f, p->n > 0, p->acc_a);
            md_cell_pct(f, p->n > 0, p->acc_b);
            if (p->n > 0)
                fprintf(f, " %+.2f |", 100 * p->delta);
            else
                fprintf(f, " – |");
            if (p->has_ci)
                fprintf(f, " [%+.2f, %+.2f] |", 100 * p->ci_low, 100 * p->ci_high);
            else
                fprintf(f, " – |");
            fprintf(f, " %lld / %lld | %s |\n", (long long)p->right_to_wrong, (long long)p->wrong_to_right,
                    paired_verdict_name(p->verdict));
        }
}

static int write_outputs(const struct verify_tasks_opts *o, struct task_run *runs, int n_runs,
                         const struct verify_tasks_model *models)
{
    int rc = 0;
    if (o->items_path) {
        FILE *f = fopen(o->items_path, "w");
        if (!f)
            return ig_error_set(IG_EIO, "--items %s: cannot create the file", o->items_path);
        for (int t = 0; t < n_runs && !rc; t++)
            rc = write_items(f, &runs[t], models);
        if (fclose(f) != 0 || rc)
            return ig_error_set(IG_EIO, "--items %s: write failed", o->items_path);
    }
    if (o->md_path) {
        FILE *f = fopen(o->md_path, "w");
        if (!f)
            return ig_error_set(IG_EIO, "--md %s: cannot create the file", o->md_path);
        fprintf(f, "# ingot verify: tasks\n\nSource: `%s`.\n", models[0].path);
        for (int t = 0; t < n_runs; t++)
            write_md_task(f, &runs[t], models, o);
        if (ferror(f) | (fclose(f) != 0))
            return ig_error_set(IG_EIO, "--md %s: write failed", o->md_path);
    }
    return 0;
}

/* ---- the whole run ----------------------------------------------------------------------------------- */

/* Every container must be the source's model: the same token ids must mean the same tokens. */
static int check_models(const struct verify_tasks_model *models, int n_models)
{
    const struct model_hparams *s = model_hparams(models[0].model);
    for (int m = 1; m < n_models; m++) {
        const struct model_hparams *t = model_hparams(models[m].model);
        if (t->n_vocab != s->n_vocab || t->n_embd != s->n_embd || t->n_ff != s->n_ff || t->n_layer != s->n_layer ||
            t->n_head != s->n_head || t->n_head_kv != s->n_head_kv)
            return ig_error_set(IG_EINVAL,
                                "verify: %s is not the source's model (vocab %lld, embd %lld, ff %lld, %lld blocks; "
                                "the source: %lld, %lld, %lld, %lld)",
                                models[m].path, (long long)t->n_vocab, (long long)t->n_embd, (long long)t->n_ff,
                                (long long)t->n_layer, (long long)s->n_vocab, (long long)s->n_embd, (long long)s->n_ff,
                                (long long)s->n_layer);
    }
    return 0;
}

int verify_tasks_run(const struct verify_tasks_opts *o, const struct vocab *v, const struct verify_tasks_model *source,
                     const struct verify_tasks_model *containers, int n_containers, json_t **container_json,
                     json_t **tasks_json)
{
    *tasks_json = NULL;
    struct tokenizer *tok = NULL;
    struct verify_tasks_model models[1 + 64];
    if (n_containers > 64)
        return ig_error_set(IG_EINVAL, "verify: %d containers (at most 64 with --tasks)", n_containers);
    models[0] = *source;
    for (int i = 0; i < n_containers; i++)
        models[1 + i] = containers[i];
    struct task_run *runs = ig_calloc((size_t)(o->n_tasks > 0 ? o->n_tasks : 1), sizeof *runs);
    int rc = runs ? check_models(models, 1 + n_containers) : IG_ENOMEM;
    if (!rc)
        rc = tokenizer_create(&tok, v);
    int n_runs = 0;
    for (; n_runs < o->n_tasks && !rc; n_runs++)   /* every file is read before any scoring */
        rc = load_task(&runs[n_runs], o->tasks[n_runs], o, tok, runs, n_runs);
    for (int t = 0; t < n_runs && !rc; t++)
        rc = score_task(&runs[t], o, models, 1 + n_containers);
    if (!rc) {
        json_t *j = json_object();
        for (int t = 0; t < n_runs; t++) {
            print_task(o->human, &runs[t], models);
            json_object_set_new(j, runs[t].name, task_json(&runs[t], o, models, container_json));
        }
        *tasks_json = j;
        rc = write_outputs(o, runs, n_runs, models);
    }
    for (int t = 0; t < n_runs; t++)
        free_task(&runs[t]);
    free(runs);
    tokenizer_destroy(tok);
    if (rc) {
        json_decref(*tasks_json);
        *tasks_json = NULL;
    }
    return rc;
}
