/* gates.c — gates, envelope and Pareto frontier over a batch's job objects (gates.h). */
#include "gates.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- figures -------------------------------------------------------------------------------- */

double batch_figure_get(const json_t *figures, const char *name)
{
    char key[BATCH_NAME_MAX];
    const json_t *v = figures;
    for (const char *p = name; v && *p;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = json_object_get(v, key);
        p += n + (dot ? 1 : 0);
    }
    if (json_is_true(v))
        return 1;
    if (json_is_false(v))
        return 0;
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* 1 when the figure's CI excludes 0, 0 when it holds 0, -1 when verify gives none. */
static int figure_is_real(const json_t *figures, const char *name)
{
    char key[BATCH_NAME_MAX + 8];
    double lo = NAN, hi = NAN;
    snprintf(key, sizeof key, "%s_ci", name);
    const json_t *ci = json_object_get(figures, key);
    if (json_is_array(ci) && json_array_size(ci) == 2) {
        lo = json_number_value(json_array_get(ci, 0));
        hi = json_number_value(json_array_get(ci, 1));
    } else {
        snprintf(key, sizeof key, "%s_ci_lo", name);
        lo = batch_figure_get(figures, key);
        snprintf(key, sizeof key, "%s_ci_hi", name);
        hi = batch_figure_get(figures, key);
    }
    if (isnan(lo) || isnan(hi))
        return -1;
    return lo > 0 || hi < 0;
}

void batch_figures_add_tasks(json_t *figures)
{
    json_t *tasks = json_object_get(figures, "tasks"), *t, *worst = NULL;
    const char *name, *worst_name = NULL;
    if (!json_is_object(tasks) || json_object_get(figures, "delta_acc"))
        return;
    json_object_foreach(tasks, name, t) {
        double d = batch_figure_get(t, "delta_acc");
        if (!worst || (!isnan(d) && !(d >= batch_figure_get(worst, "delta_acc"))))
            worst = t, worst_name = name;
    }
    if (!worst)
        return;
    /* fractions -> points: gates read "delta_acc >= -1.0" as one point of accuracy */
    double d = batch_figure_get(worst, "delta_acc"), lo = batch_figure_get(worst, "delta_acc_ci_low"),
           hi = batch_figure_get(worst, "delta_acc_ci_high"), acc = batch_figure_get(worst, "acc");
    json_object_set_new(figures, "task", json_string(worst_name));
    json_object_set_new(figures, "delta_acc", isnan(d) ? json_null() : json_real(100 * d));
    json_object_set_new(figures, "delta_acc_ci",
                        isnan(lo) || isnan(hi) ? json_null() : json_pack("[f, f]", 100 * lo, 100 * hi));
    json_object_set_new(figures, "acc", isnan(acc) ? json_null() : json_real(100 * acc));
    static const char *const same[] = {"verdict", "ece", "ece_post_t", "macro_f1", "flips_right_to_wrong"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (json_object_get(worst, same[i]))
            json_object_set(figures, same[i], json_object_get(worst, same[i]));
}

/* ---- gates ---------------------------------------------------------------------------------- */

int batch_gates_resolve(const struct batch_manifest *m, int spec, struct batch_gate *out)
{
    const struct batch_job_spec *s = &m->specs[spec];
    int n = 0;
    for (int i = 0; i < m->n_gates; i++) {
        bool replaced = false;
        for (int k = 0; k < s->n_gates; k++)
            replaced |= strcmp(s->gates[k].figure, m->gates[i].figure) == 0;
        if (!replaced)
            out[n++] = m->gates[i];
    }
    for (int k = 0; k < s->n_gates; k++)
        out[n++] = s->gates[k];
    return n;
}

int batch_job_apply_gates(json_t *job, const struct batch_gate *gates, int n)
{
    json_t *figures = json_object_get(job, "figures"), *arr = json_array();
    int n_failed = 0;
    for (int i = 0; i < n; i++) {
        const struct batch_gate *g = &gates[i];
        double v = batch_figure_get(figures, g->figure);
        bool pass = batch_gate_holds(g, v);
        char note[256] = "";
        if (isnan(v))
            snprintf(note, sizeof note, "%s was not measured", g->figure);
        else if (!pass && g->unless_not_real && figure_is_real(figures, g->figure) == 0) {
            pass = true;
            snprintf(note, sizeof note, "not a real change (its CI holds 0)");
        }
        n_failed += !pass;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:f, s:o, s:b, s:s}", "gate", g->text, "figure",
                                             g->figure, "op", batch_gate_op_name(g->op), "threshold", g->threshold,
                                             "value", isnan(v) ? json_null() : json_real(v), "pass", pass, "note",
                                             note));
    }
    json_object_set_new(job, "gates", arr);
    json_object_set_new(job, "gates_pass", json_boolean(n_failed == 0));
    return n_failed;
}

/* ---- envelope and frontier ------------------------------------------------------------------ */

static bool dominates(const json_t *a, const json_t *b)
{
    const json_t *fa = json_object_get(a, "figures"), *fb = json_object_get(b, "figures");
    double ax = batch_figure_get(fa, "bits_per_weight"), ay = batch_figure_get(fa, "kld_mean");
    double bx = batch_figure_get(fb, "bits_per_weight"), by = batch_figure_get(fb, "kld_mean");
    return ax <= bx && ay <= by && (ax < bx || ay < by);
}

void batch_jobs_mark(json_t *jobs, const struct batch_gate *envelope, int n_envelope)
{
    size_t n = json_array_size(jobs);
    for (size_t i = 0; i < n; i++) {
        json_t *job = json_array_get(jobs, i), *f = json_object_get(job, "figures");
        bool viable = json_is_object(f);   /* a job that was not measured ships nothing */
        for (int e = 0; e < n_envelope; e++)
            viable &= batch_gate_holds(&envelope[e], batch_figure_get(f, envelope[e].figure));
        bool measured = !isnan(batch_figure_get(f, "bits_per_weight")) && !isnan(batch_figure_get(f, "kld_mean"));
        bool pareto = measured;
        const char *model = json_string_value(json_object_get(job, "model"));
        for (size_t k = 0; k < n && pareto; k++) {
            json_t *other = json_array_get(jobs, k);
            const char *m2 = json_string_value(json_object_get(other, "model"));
            if (k != i && model && m2 && strcmp(model, m2) == 0 && dominates(other, job))
                pareto = false;
        }
        json_object_set_new(job, "viable", json_boolean(viable));
        json_object_set_new(job, "pareto", json_boolean(pareto));
    }
}
