/* gates.h — quality gates, the envelope and the Pareto frontier over a batch's jobs.
 *
 * A job's figures are verify's JSON object for its container (ppl_ratio, kld_mean,
 * same_top_pct, bits_per_weight, bytes, and task figures when verify reports them). A gate
 * is met when its figure satisfies the bound; "unless not real" also lets it pass when the
 * figure's confidence interval (FIGURE_ci: [lo, hi], or FIGURE_ci_lo/FIGURE_ci_hi) holds 0.
 * A figure that is missing or null fails its gate, saying so. The envelope marks each job
 * viable when it meets every envelope constraint at once; the Pareto frontier (per model,
 * bits per weight against mean KLD, both lower-better) marks the jobs no other job of the
 * model beats on both.
 */
#ifndef BATCH_GATES_H
#define BATCH_GATES_H

#include "manifest.h"

struct json_t;

/* The figure name (a key, or a dotted path) in figures, or NaN when absent or not a number. */
double batch_figure_get(const struct json_t *figures, const char *name);

/* Lift verify's per-task figures (figures["tasks"][NAME]: acc and delta_acc as fractions,
 * delta_acc_ci_low/_high, verdict, ece, ece_post_t, macro_f1) to the container's level, where
 * gates and the report read them, unless already there: delta_acc and its CI in percentage
 * points (delta_acc_ci [lo, hi]), acc in percent, the rest as they are. With several tasks
 * the task with the lowest delta_acc speaks for the container ("task" names it). */
void batch_figures_add_tasks(struct json_t *figures);

/* The gates that apply to jobs of spec: the global ones, with a per-job gate replacing a
 * global gate on the same figure. Returns how many were written to out[2 * BATCH_MAX_GATES]. */
int batch_gates_resolve(const struct batch_manifest *m, int spec, struct batch_gate *out);

/* Evaluate gates[n] on job["figures"]; sets job["gates"] to an array of {gate, figure, op,
 * threshold, value, pass, note} and job["gates_pass"]. Returns the number that failed. */
int batch_job_apply_gates(struct json_t *job, const struct batch_gate *gates, int n);

/* Set "viable" (meets every envelope constraint) and "pareto" (on its model's frontier of
 * bits_per_weight vs kld_mean) on every job of the array jobs. */
void batch_jobs_mark(struct json_t *jobs, const struct batch_gate *envelope, int n_envelope);

#endif /* BATCH_GATES_H */
