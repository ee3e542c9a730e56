/* report.h — a batch report (the JSON document `ingot batch` writes as report.json) laid
 * out as Markdown and as one self-contained HTML page with SVG charts.
 *
 * No math beyond layout: gates, the envelope's viable set and the Pareto frontier arrive
 * computed in the document (batch/gates.c). What is read, per job of report["jobs"]:
 * model, method, type, figures {bytes, bits_per_weight, ppl_ratio, kld_mean, same_top_pct,
 * delta_acc, delta_acc_ci [lo, hi] (or delta_acc_ci_lo/_hi), verdict, ece_post_t}, gates
 * [{gate, figure, op, threshold, value, pass}], viable, pareto, layers [{tensor, rel_error}];
 * report["envelope"] holds the envelope's constraints as text ("bpw <= 5").
 *
 * The HTML needs no JavaScript and loads nothing: CSS and SVG are inline. Charts: bits per
 * weight against mean KLD (log scale) with the frontier drawn and dominated points hollow;
 * bits per weight against Δacc with CI whiskers; envelope thresholds as dashed lines; a
 * per-layer heatmap of the calibration's relative output error.
 */
#ifndef REPORT_H
#define REPORT_H

struct json_t;

/* The report as Markdown: a table per model with each gate as ✔/✘. Heap string (caller
 * frees), or NULL when out of memory. */
char *report_markdown(const struct json_t *report);

/* The report as one self-contained HTML page. Heap string (caller frees), or NULL. */
char *report_html(const struct json_t *report);

#endif /* REPORT_H */
