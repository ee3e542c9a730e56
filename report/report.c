/* report.c — lay out a batch report as Markdown and as self-contained HTML with SVG charts
 * (report.h). Text accumulates in a growable buffer; every string from the document is
 * escaped for HTML. Charts map data to a fixed plot box: x linear in bits per weight, y
 * log10 of mean KLD (or linear Δacc); ticks at round values.
 */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string ---------------------------------------------------------------------- */

struct sb {
    char *s;
    size_t n, cap;
    bool failed;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sb *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int need = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (need < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->n + (size_t)need < b->cap) {
            b->n += (size_t)need;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)need;
        char *g = realloc(b->s, cap);
        if (!g) {
            b->failed = true;
            return;
        }
        b->s = g;
        b->cap = cap;
    }
}

static char *sb_finish(struct sb *b)
{
    if (b->failed || !b->s) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

/* Text with &, <, >, " escaped. */
static void sb_esc(struct sb *b, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s);
        }
}

/* ---- figures -------------------------------------------------------------------------------- */

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static double fig(const json_t *job, const char *key)
{
    return num(json_object_get(job, "figures"), key);
}

/* The CI of figure key: key_ci [lo, hi], or key_ci_lo/key_ci_hi; false when absent. */
static bool fig_ci(const json_t *job, const char *key, double *lo, double *hi)
{
    const json_t *f = json_object_get(job, "figures");
    char k[96];
    snprintf(k, sizeof k, "%s_ci", key);
    const json_t *ci = json_object_get(f, k);
    if (json_is_array(ci) && json_array_size(ci) == 2) {
        *lo = json_number_value(json_array_get(ci, 0));
        *hi = json_number_value(json_array_get(ci, 1));
    } else {
        snprintf(k, sizeof k, "%s_ci_lo", key);
        *lo = num(f, k);
        snprintf(k, sizeof k, "%s_ci_hi", key);
        *hi = num(f, k);
    }
    return isfinite(*lo) && isfinite(*hi);
}

/* "%.*f" or "–" for a missing figure. */
static const char *fmt(char *buf, size_t size, double x, const char *format)
{
    if (!isfinite(x))
        return "–";
    snprintf(buf, size, format, x);
    return buf;
}

static const char *size_text(char *buf, size_t size, double bytes)
{
    if (!isfinite(bytes))
        return "–";
    if (bytes >= 1 << 30)
        snprintf(buf, size, "%.2f GiB", bytes / (1 << 30));
    else if (bytes >= 1 << 20)
        snprintf(buf, size, "%.2f MiB", bytes / (1 << 20));
    else
        snprintf(buf, size, "%.1f KiB", bytes / 1024);
    return buf;
}

/* The distinct gate texts over the jobs of model, in first-seen order (at most 32). */
static int model_gates(const json_t *jobs, const char *model, const char *names[32])
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *job = json_array_get(jobs, i), *g = json_object_get(job, "gates");
        if (strcmp(str(job, "model"), model) != 0)
            continue;
        for (size_t k = 0; k < json_array_size(g) && n < 32; k++) {
            const char *t = str(json_array_get(g, k), "gate");
            bool seen = false;
            for (int q = 0; q < n; q++)
                seen |= strcmp(names[q], t) == 0;
            if (!seen)
                names[n++] = t;
        }
    }
    return n;
}

/* "✔", "✘" or "–" for job's gate named text. */
static const char *gate_mark(const json_t *job, const char *text)
{
    const json_t *g = json_object_get(job, "gates");
    for (size_t k = 0; k < json_array_size(g); k++)
        if (strcmp(str(json_array_get(g, k), "gate"), text) == 0)
            return json_is_true(json_object_get(json_array_get(g, k), "pass")) ? "✔" : "✘";
    return "–";
}

/* One table row's cells, shared by Markdown and HTML: cells[N_CELLS][96]. */
enum { N_CELLS = 12 };
static const char *const cell_names[N_CELLS] = {"method",   "type",          "size",    "bpw",
                                                "PPL ratio", "KLD mean",     "same-top", "Δacc (95% CI)",
                                                "verdict",  "ECE after T",   "viable",  "Pareto"};

static void row_cells(const json_t *job, char cells[N_CELLS][96])
{
    char b[64], lo_s[32], hi_s[32];
    double lo, hi;
    snprintf(cells[0], 96, "%s%s", str(job, "method"), strcmp(str(job, "status"), "failed") == 0 ? " (failed)" : "");
    snprintf(cells[1], 96, "%s", str(job, "type"));
    snprintf(cells[2], 96, "%s", size_text(b, sizeof b, fig(job, "bytes")));
    snprintf(cells[3], 96, "%s", fmt(b, sizeof b, fig(job, "bits_per_weight"), "%.3f"));
    snprintf(cells[4], 96, "%s", fmt(b, sizeof b, fig(job, "ppl_ratio"), "%.4f"));
    snprintf(cells[5], 96, "%s", fmt(b, sizeof b, fig(job, "kld_mean"), "%.6f"));
    snprintf(cells[6], 96, "%s%s", fmt(b, sizeof b, fig(job, "same_top_pct"), "%.2f"),
             isfinite(fig(job, "same_top_pct")) ? "%" : "");
    if (fig_ci(job, "delta_acc", &lo, &hi))
        snprintf(cells[7], 96, "%.30s [%.25s, %.25s]", fmt(b, sizeof b, fig(job, "delta_acc"), "%+.2f"),
                 fmt(lo_s, sizeof lo_s, lo, "%+.2f"), fmt(hi_s, sizeof hi_s, hi, "%+.2f"));
    else
        snprintf(cells[7], 96, "%s", fmt(b, sizeof b, fig(job, "delta_acc"), "%+.2f"));
    const char *verdict = str(json_object_get(job, "figures"), "verdict");
    snprintf(cells[8], 96, "%s", verdict[0] ? verdict : "–");
    snprintf(cells[9], 96, "%s", fmt(b, sizeof b, fig(job, "ece_post_t"), "%.4f"));
    snprintf(cells[10], 96, "%s", json_is_true(json_object_get(job, "viable")) ? "✔" : "✘");
    snprintf(cells[11], 96, "%s", json_is_true(json_object_get(job, "pareto")) ? "★" : "");
}

/* ---- Markdown ------------------------------------------------------------------------------- */

static void md_header(struct sb *b, const json_t *r)
{
    const json_t *sum = json_object_get(r, "summary");
    sb_printf(b, "# ingot batch report\n\n");
    sb_printf(b, "Manifest `%s`, ingot %s: %lld job(s), %lld gate(s) failed, %lld viable under the envelope", str(r, "manifest"),
              str(r, "ingot_version"), (long long)json_integer_value(json_object_get(sum, "jobs")),
              (long long)json_integer_value(json_object_get(sum, "gates_failed")),
              (long long)json_integer_value(json_object_get(sum, "viable")));
    const json_t *env = json_object_get(r, "envelope");
    for (size_t i = 0; i < json_array_size(env); i++)
        sb_printf(b, "%s`%s`", i ? ", " : " (", json_string_value(json_array_get(env, i)));
    sb_printf(b, "%s.\n\n", json_array_size(env) ? ")" : "");
}

static void md_source_line(struct sb *b, const json_t *model)
{
    const json_t *src = json_object_get(model, "source"), *ev = json_object_get(model, "eval");
    if (!src)
        return;
    sb_printf(b, "Source `%s`: PPL %.4f ± %.4f on `%s` (ctx %lld, %lld tokens scored).\n\n", str(model, "path"),
              num(src, "ppl"), num(src, "ppl_stderr"), str(ev, "path"),
              (long long)json_integer_value(json_object_get(ev, "ctx")),
              (long long)json_integer_value(json_object_get(src, "tokens")));
}

char *report_markdown(const json_t *r)
{
    struct sb b = {0};
    const json_t *jobs = json_object_get(r, "jobs"), *models = json_object_get(r, "models");
    md_header(&b, r);
    for (size_t m = 0; m < json_array_size(models); m++) {
        const json_t *model = json_array_get(models, m);
        const char *name = str(model, "name"), *gates[32];
        int n_gates = model_gates(jobs, name, gates);
        sb_printf(&b, "## %s\n\n", name);
        md_source_line(&b, model);
        sb_printf(&b, "|");
        for (int c = 0; c < N_CELLS; c++)
            sb_printf(&b, " %s |", cell_names[c]);
        for (int g = 0; g < n_gates; g++)
            sb_printf(&b, " `%s` |", gates[g]);
        sb_printf(&b, "\n|");
        for (int c = 0; c < N_CELLS + n_gates; c++)
            sb_printf(&b, "%s", c >= 2 && c <= 9 ? "---:|" : ":---|");
        sb_printf(&b, "\n");
        for (size_t i = 0; i < json_array_size(jobs); i++) {
            const json_t *job = json_array_get(jobs, i);
            char cells[N_CELLS][96];
            if (strcmp(str(job, "model"), name) != 0)
                continue;
            row_cells(job, cells);
            sb_printf(&b, "|");
            for (int c = 0; c < N_CELLS; c++)
                sb_printf(&b, " %s |", cells[c]);
            for (int g = 0; g < n_gates; g++)
                sb_printf(&b, " %s |", gate_mark(job, gates[g]));
            sb_printf(&b, "\n");
        }
        sb_printf(&b, "\n");
    }
    bool any_failed = false;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *job = json_array_get(jobs, i), *g = json_object_get(job, "gates");
        for (size_t k = 0; k < json_array_size(g); k++) {
            const json_t *x = json_array_get(g, k);
            if (json_is_true(json_object_get(x, "pass")))
                continue;
            if (!any_failed)
                sb_printf(&b, "### Failed gates\n\n");
            any_failed = true;
            char v[32];
            sb_printf(&b, "- `%s`: %s = %s, allowed %s %g\n", str(job, "job"), str(x, "figure"),
                      fmt(v, sizeof v, num(x, "value"), "%.6g"), str(x, "op"), num(x, "threshold"));
        }
    }
    sb_printf(&b, "%s★ on the Pareto frontier (bits per weight vs mean KLD); viable: meets every envelope "
                  "constraint.\n", any_failed ? "\n" : "");
    return sb_finish(&b);
}

/* ---- SVG charts ----------------------------------------------------------------------------- */

/* A plot box: pixel geometry and data ranges. */
struct plot {
    double x0, y0, w, h;          /* box, pixels */
    double xmin, xmax, ymin, ymax; /* data (y in log10 units when log_y) */
    bool log_y;
};

static double px(const struct plot *p, double x)
{
    return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * p->w;
}

static double py(const struct plot *p, double y)
{
    double v = p->log_y ? log10(y) : y;
    return p->y0 + p->h - (v - p->ymin) / (p->ymax - p->ymin) * p->h;
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"};

static void svg_axes(struct sb *b, const struct plot *p, const char *xlabel, const char *ylabel)
{
    sb_printf(b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#fcfcfc' stroke='#444'/>\n", p->x0, p->y0,
              p->w, p->h);
    double step = (p->xmax - p->xmin) > 6 ? 1.0 : 0.5;
    for (double x = ceil(p->xmin / step) * step; x <= p->xmax + 1e-9; x += step)
        sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/><text x='%.1f' y='%.1f' "
                     "font-size='11' text-anchor='middle'>%g</text>\n",
                  px(p, x), p->y0, px(p, x), p->y0 + p->h, px(p, x), p->y0 + p->h + 14, x);
    if (p->log_y) {
        for (double e = ceil(p->ymin); e <= p->ymax + 1e-9; e += 1) {
            double y = p->y0 + p->h - (e - p->ymin) / (p->ymax - p->ymin) * p->h;
            sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/><text x='%.1f' y='%.1f' "
                         "font-size='11' text-anchor='end'>1e%d</text>\n",
                      p->x0, y, p->x0 + p->w, y, p->x0 - 4, y + 4, (int)e);
        }
    } else {
        double span = p->ymax - p->ymin, ystep = pow(10, floor(log10(span / 2)));
        for (double y = ceil(p->ymin / ystep) * ystep; y <= p->ymax + 1e-9; y += ystep)
            sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/><text x='%.1f' y='%.1f' "
                         "font-size='11' text-anchor='end'>%g</text>\n",
                      p->x0, py(p, y), p->x0 + p->w, py(p, y), p->x0 - 4, py(p, y) + 4, fabs(y) < 1e-12 ? 0 : y);
    }
    sb_printf(b, "<text x='%.1f' y='%.1f' font-size='12' text-anchor='middle'>%s</text>\n", p->x0 + p->w / 2,
              p->y0 + p->h + 32, xlabel);
    sb_printf(b, "<text x='14' y='%.1f' font-size='12' text-anchor='middle' transform='rotate(-90 14 %.1f)'>%s</text>\n",
              p->y0 + p->h / 2, p->y0 + p->h / 2, ylabel);
}

/* Envelope constraints on the chart's figures as dashed lines. */
static void svg_envelope(struct sb *b, const struct plot *p, const json_t *r, const char *yfig)
{
    const json_t *env = json_object_get(r, "envelope");
    for (size_t i = 0; i < json_array_size(env); i++) {
        char name[64], op[8];
        double t;
        const char *text = json_string_value(json_array_get(env, i));
        if (!text || sscanf(text, " %63[A-Za-z0-9_.] %7[<>=] %lf", name, op, &t) != 3)
            continue;
        /* the operator as text: "<" must be escaped inside SVG */
        const char *op_text = strcmp(op, "<=") == 0 ? "&lt;=" : strcmp(op, "<") == 0 ? "&lt;"
                            : strcmp(op, ">=") == 0 ? "&gt;=" : "&gt;";
        bool is_x = strcmp(name, "bpw") == 0 || strcmp(name, "bits_per_weight") == 0;
        if (is_x && t > p->xmin && t < p->xmax)
            sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#c00' stroke-dasharray='6 4'/>"
                         "<text x='%.1f' y='%.1f' font-size='11' fill='#c00'>bpw %s %g</text>\n",
                      px(p, t), p->y0, px(p, t), p->y0 + p->h, px(p, t) + 3, p->y0 + 12, op_text, t);
        double yv = p->log_y ? (t > 0 ? log10(t) : -1e9) : t;
        if (strcmp(name, yfig) == 0 && yv > p->ymin && yv < p->ymax)
            sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#c00' stroke-dasharray='6 4'/>"
                         "<text x='%.1f' y='%.1f' font-size='11' fill='#c00' text-anchor='end'>%s %s %g</text>\n",
                      p->x0, py(p, t), p->x0 + p->w, py(p, t), p->x0 + p->w - 3, py(p, t) - 3, name, op_text, t);
    }
}

/* The envelope's upper bound on figure (or its alias), or +Inf when it sets none. */
static double envelope_max(const json_t *r, const char *figure, const char *alias)
{
    const json_t *env = json_object_get(r, "envelope");
    double bound = INFINITY;
    for (size_t i = 0; i < json_array_size(env); i++) {
        char name[64], op[8];
        double t;
        const char *text = json_string_value(json_array_get(env, i));
        if (text && sscanf(text, " %63[A-Za-z0-9_.] %7[<>=] %lf", name, op, &t) == 3 && op[0] == '<' &&
            (strcmp(name, figure) == 0 || (alias && strcmp(name, alias) == 0)))
            bound = fmin(bound, t);
    }
    return bound;
}

/* Shade the part of the plot that meets the envelope's bounds on x (bpw) and y. */
static void svg_viable_region(struct sb *b, const struct plot *p, const json_t *r, const char *yfig)
{
    double xb = envelope_max(r, "bits_per_weight", "bpw"), yb = envelope_max(r, yfig, NULL);
    if (!isfinite(xb) && !isfinite(yb))
        return;
    double x1 = isfinite(xb) ? fmin(fmax(px(p, xb), p->x0), p->x0 + p->w) : p->x0 + p->w;
    double y0 = isfinite(yb) && (!p->log_y || yb > 0) ? fmin(fmax(py(p, yb), p->y0), p->y0 + p->h) : p->y0;
    sb_printf(b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#e6f5e6'/>"
                 "<text x='%.1f' y='%.1f' font-size='11' fill='#393'>viable</text>\n",
              p->x0, y0, x1 - p->x0, p->y0 + p->h - y0, p->x0 + 6, p->y0 + p->h - 6);
}

/* Data ranges over the jobs with both figures; false when none has them. */
static bool plot_ranges(struct plot *p, const json_t *jobs, const char *yfig, bool with_ci)
{
    p->xmin = p->ymin = INFINITY;
    p->xmax = p->ymax = -INFINITY;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *job = json_array_get(jobs, i);
        double x = fig(job, "bits_per_weight"), y = fig(job, yfig), lo = y, hi = y;
        if (!isfinite(x) || !isfinite(y) || (p->log_y && y <= 0))
            continue;
        if (with_ci && !fig_ci(job, yfig, &lo, &hi))
            lo = hi = y;
        p->xmin = fmin(p->xmin, x);
        p->xmax = fmax(p->xmax, x);
        p->ymin = fmin(p->ymin, p->log_y ? log10(y) : lo);
        p->ymax = fmax(p->ymax, p->log_y ? log10(y) : hi);
    }
    if (!isfinite(p->xmin))
        return false;
    p->xmin = floor(p->xmin * 2 - 1) / 2;
    p->xmax = ceil(p->xmax * 2 + 1) / 2;
    if (p->log_y) {
        p->ymin = floor(p->ymin - 0.2);
        p->ymax = ceil(p->ymax + 0.2);
    } else {
        double pad = fmax(0.5, 0.15 * (p->ymax - p->ymin));
        p->ymin = fmin(p->ymin - pad, -pad);
        p->ymax = fmax(p->ymax + pad, pad);
    }
    return true;
}

static int model_index(const json_t *models, const char *name)
{
    for (size_t m = 0; m < json_array_size(models); m++)
        if (strcmp(str(json_array_get(models, m), "name"), name) == 0)
            return (int)m;
    return 0;
}

/* Bits per weight against mean KLD, log scale: the frontier per model, dominated hollow. */
static void svg_pareto(struct sb *b, const json_t *r)
{
    const json_t *jobs = json_object_get(r, "jobs"), *models = json_object_get(r, "models");
    struct plot p = {70, 20, 560, 320, 0, 0, 0, 0, true};
    sb_printf(b, "<h2>Bits per weight against mean KL divergence</h2>\n");
    if (!plot_ranges(&p, jobs, "kld_mean", false)) {
        sb_printf(b, "<p>No job has both figures yet.</p>\n");
        return;
    }
    sb_printf(b, "<svg xmlns='http://www.w3.org/2000/svg' width='760' height='390' viewBox='0 0 760 390' "
                 "role='img' aria-label='bits per weight against mean KLD'>\n");
    svg_axes(b, &p, "bits per weight", "mean KLD (log scale)");
    svg_viable_region(b, &p, r, "kld_mean");
    svg_envelope(b, &p, r, "kld_mean");
    for (size_t m = 0; m < json_array_size(models); m++) {
        const char *model = str(json_array_get(models, m), "name");
        const char *color = palette[m % 7];
        /* the frontier: its points by bits per weight, joined */
        double fx[256], fy[256];
        int nf = 0;
        for (size_t i = 0; i < json_array_size(jobs) && nf < 256; i++) {
            const json_t *job = json_array_get(jobs, i);
            if (strcmp(str(job, "model"), model) == 0 && json_is_true(json_object_get(job, "pareto"))) {
                int k = nf++;
                for (; k > 0 && fx[k - 1] > fig(job, "bits_per_weight"); k--)
                    fx[k] = fx[k - 1], fy[k] = fy[k - 1];
                fx[k] = fig(job, "bits_per_weight");
                fy[k] = fig(job, "kld_mean");
            }
        }
        sb_printf(b, "<polyline fill='none' stroke='%s' stroke-width='2' points='", color);
        for (int k = 0; k < nf; k++)
            sb_printf(b, "%.1f,%.1f ", px(&p, fx[k]), py(&p, fy[k]));
        sb_printf(b, "'/>\n");
        /* the legend sits top right, where no frontier point goes (many bits and a large KLD) */
        sb_printf(b, "<text x='%.1f' y='%.1f' font-size='12' fill='%s' text-anchor='end'>● %s (frontier)  ○ dominated"
                     "</text>\n", p.x0 + p.w - 8, p.y0 + 16 + 14.0 * (double)m, color, model);
    }
    double placed[256][2];
    int n_placed = 0;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *job = json_array_get(jobs, i);
        double x = fig(job, "bits_per_weight"), y = fig(job, "kld_mean");
        if (!isfinite(x) || !isfinite(y) || y <= 0)
            continue;
        const char *color = palette[model_index(models, str(job, "model")) % 7];
        bool front = json_is_true(json_object_get(job, "pareto"));
        bool gates_ok = !json_is_false(json_object_get(job, "gates_pass"));
        sb_printf(b, "<circle cx='%.1f' cy='%.1f' r='5' fill='%s' stroke='%s' stroke-width='2'><title>", px(&p, x),
                  py(&p, y), front ? color : "white", front ? color : "#888");
        sb_esc(b, str(job, "job"));
        sb_printf(b, ": %.3f bpw, KLD %.6f%s</title></circle>\n", x, y, front ? "" : " (dominated)");
        /* move a label down past the ones already placed that it would cover */
        double lx = px(&p, x) + 7, ly = py(&p, y) - 6;
        for (int k = 0; k < n_placed; k++)
            if (fabs(placed[k][0] - lx) < 80 && fabs(placed[k][1] - ly) < 11) {
                ly = placed[k][1] + 11;
                k = -1;   /* check again against every label */
            }
        if (n_placed < 256) {
            placed[n_placed][0] = lx;
            placed[n_placed++][1] = ly;
        }
        if (ly > py(&p, y) - 6)   /* a moved label gets a leader line to its point */
            sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#aaa' stroke-width='0.7'/>\n",
                      px(&p, x) + 4, py(&p, y) + 2, lx - 1, ly - 3);
        sb_printf(b, "<text x='%.1f' y='%.1f' font-size='10' fill='%s'>", lx, ly, gates_ok ? "#333" : "#c00");
        sb_esc(b, str(job, "type"));
        sb_printf(b, " ");
        sb_esc(b, str(job, "method"));
        sb_printf(b, "%s</text>\n", gates_ok ? "" : " ✘");
    }
    sb_printf(b, "</svg>\n");
}

/* Bits per weight against Δacc with its CI as whiskers. */
static void svg_delta_acc(struct sb *b, const json_t *r)
{
    const json_t *jobs = json_object_get(r, "jobs"), *models = json_object_get(r, "models");
    struct plot p = {70, 20, 560, 260, 0, 0, 0, 0, false};
    sb_printf(b, "<h2>Bits per weight against task accuracy change (Δacc, 95%% CI)</h2>\n");
    if (!plot_ranges(&p, jobs, "delta_acc", true)) {
        sb_printf(b, "<p>No task figures: the manifest's evaluation.tasks is empty, or verify reported no "
                     "delta_acc.</p>\n");
        return;
    }
    sb_printf(b, "<svg xmlns='http://www.w3.org/2000/svg' width='760' height='330' viewBox='0 0 760 330' "
                 "role='img' aria-label='bits per weight against delta accuracy'>\n");
    svg_axes(b, &p, "bits per weight", "Δacc (points)");
    sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#444'/>\n", p.x0, py(&p, 0), p.x0 + p.w,
              py(&p, 0));
    svg_envelope(b, &p, r, "delta_acc");
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *job = json_array_get(jobs, i);
        double x = fig(job, "bits_per_weight"), y = fig(job, "delta_acc"), lo, hi;
        if (!isfinite(x) || !isfinite(y))
            continue;
        const char *color = palette[model_index(models, str(job, "model")) % 7];
        if (fig_ci(job, "delta_acc", &lo, &hi))
            sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s'/>"
                         "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s'/>"
                         "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s'/>\n",
                      px(&p, x), py(&p, lo), px(&p, x), py(&p, hi), color, px(&p, x) - 4, py(&p, lo), px(&p, x) + 4,
                      py(&p, lo), color, px(&p, x) - 4, py(&p, hi), px(&p, x) + 4, py(&p, hi), color);
        sb_printf(b, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'><title>", px(&p, x), py(&p, y), color);
        sb_esc(b, str(job, "job"));
        sb_printf(b, ": Δacc %+.2f</title></circle>\n", y);
    }
    sb_printf(b, "</svg>\n");
}

/* Rows: calibrated jobs; columns: their tensors; colour: log10 of the relative error. */
static void svg_heatmap(struct sb *b, const json_t *r)
{
    const json_t *jobs = json_object_get(r, "jobs");
    const char *cols[512];
    int n_cols = 0, n_rows = 0;
    double lmin = INFINITY, lmax = -INFINITY;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *layers = json_object_get(json_array_get(jobs, i), "layers");
        n_rows += json_array_size(layers) > 0;
        for (size_t k = 0; k < json_array_size(layers); k++) {
            const json_t *l = json_array_get(layers, k);
            const char *t = str(l, "tensor");
            double e = num(l, "rel_error");
            if (isfinite(e) && e > 0) {
                lmin = fmin(lmin, log10(e));
                lmax = fmax(lmax, log10(e));
            }
            int c = 0;
            while (c < n_cols && strcmp(cols[c], t) != 0)
                c++;
            if (c == n_cols && n_cols < 512)
                cols[n_cols++] = t;
        }
    }
    sb_printf(b, "<h2>Per-layer error of the calibrated jobs</h2>\n");
    if (n_rows == 0 || !isfinite(lmin)) {
        sb_printf(b, "<p>No calibrated job in this batch (rtn jobs have no per-layer calibration report).</p>\n");
        return;
    }
    if (lmax - lmin < 1e-9)
        lmax = lmin + 1;
    double cw = fmax(6, fmin(24, 640.0 / n_cols)), ch = 18, left = 200, top = 10;
    double width = left + cw * n_cols + 20, height = top + ch * n_rows + 70;
    sb_printf(b, "<p>‖WX − W′X‖ / ‖WX‖ on the calibration inputs, one column per tensor (blocks left to right); "
                 "darker is worse: %.2g to %.2g.</p>\n", pow(10, lmin), pow(10, lmax));
    sb_printf(b, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' viewBox='0 0 %.0f %.0f' "
                 "role='img' aria-label='per-layer error heatmap'>\n", width, height, width, height);
    int row = 0;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        const json_t *job = json_array_get(jobs, i), *layers = json_object_get(job, "layers");
        if (json_array_size(layers) == 0)
            continue;
        double y = top + ch * row++;
        sb_printf(b, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='end'>", left - 6, y + 13);
        sb_esc(b, str(job, "job"));
        sb_printf(b, "</text>\n");
        for (size_t k = 0; k < json_array_size(layers); k++) {
            const json_t *l = json_array_get(layers, k);
            double e = num(l, "rel_error");
            int c = 0;
            while (c < n_cols && strcmp(cols[c], str(l, "tensor")) != 0)
                c++;
            if (c == n_cols || !isfinite(e) || e <= 0)
                continue;
            double t = (log10(e) - lmin) / (lmax - lmin);   /* 0 best .. 1 worst */
            int R = (int)(255 - 40 * t), G = (int)(245 - 200 * t), B = (int)(235 - 215 * t);
            sb_printf(b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='rgb(%d,%d,%d)'><title>", left + cw * c,
                      y, cw - 1, ch - 1, R, G, B);
            sb_esc(b, str(l, "tensor"));
            sb_printf(b, ": %.5f</title></rect>\n", e);
        }
    }
    /* a label and a tick at the first column of each block ("blk.N.") */
    for (int c = 0; c < n_cols; c++) {
        const char *dot = strncmp(cols[c], "blk.", 4) == 0 ? strchr(cols[c] + 4, '.') : NULL;
        int len = dot ? (int)(dot - cols[c]) : 0;
        if (!dot || (c > 0 && strncmp(cols[c - 1], cols[c], (size_t)len + 1) == 0))
            continue;
        double x = left + cw * c;
        sb_printf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#444'/>"
                     "<text x='%.1f' y='%.1f' font-size='10'>%.*s</text>\n",
                  x, top + ch * n_rows, x, top + ch * n_rows + 6, x + 2, top + ch * n_rows + 16, len, cols[c]);
    }
    /* the colour scale */
    double ly = top + ch * n_rows + 30;
    for (int k = 0; k < 10; k++) {
        double t = k / 9.0;
        sb_printf(b, "<rect x='%.1f' y='%.1f' width='16' height='10' fill='rgb(%d,%d,%d)'/>\n", left + 16.0 * k, ly,
                  (int)(255 - 40 * t), (int)(245 - 200 * t), (int)(235 - 215 * t));
    }
    sb_printf(b, "<text x='%.1f' y='%.1f' font-size='10'>%.2g</text><text x='%.1f' y='%.1f' font-size='10'>%.2g "
                 "(relative output error, log scale)</text>\n</svg>\n",
              left - 30, ly + 9, pow(10, lmin), left + 166, ly + 9, pow(10, lmax));
}

/* ---- HTML ----------------------------------------------------------------------------------- */

static void html_tables(struct sb *b, const json_t *r)
{
    const json_t *jobs = json_object_get(r, "jobs"), *models = json_object_get(r, "models");
    for (size_t m = 0; m < json_array_size(models); m++) {
        const json_t *model = json_array_get(models, m), *src = json_object_get(model, "source");
        const char *name = str(model, "name"), *gates[32];
        int n_gates = model_gates(jobs, name, gates);
        sb_printf(b, "<h2>");
        sb_esc(b, name);
        sb_printf(b, "</h2>\n");
        if (src)
            sb_printf(b, "<p>Source PPL %.4f ± %.4f over %lld tokens.</p>\n", num(src, "ppl"), num(src, "ppl_stderr"),
                      (long long)json_integer_value(json_object_get(src, "tokens")));
        sb_printf(b, "<div class='wrap'><table>\n<tr>");
        for (int c = 0; c < N_CELLS; c++)
            sb_printf(b, "<th>%s</th>", cell_names[c]);
        for (int g = 0; g < n_gates; g++) {
            sb_printf(b, "<th><code>");
            sb_esc(b, gates[g]);
            sb_printf(b, "</code></th>");
        }
        sb_printf(b, "</tr>\n");
        for (size_t i = 0; i < json_array_size(jobs); i++) {
            const json_t *job = json_array_get(jobs, i);
            char cells[N_CELLS][96];
            if (strcmp(str(job, "model"), name) != 0)
                continue;
            row_cells(job, cells);
            sb_printf(b, "<tr>");
            for (int c = 0; c < N_CELLS; c++) {
                sb_printf(b, "<td%s>", c >= 2 && c <= 9 ? " class='n'" : "");
                sb_esc(b, cells[c]);
                sb_printf(b, "</td>");
            }
            for (int g = 0; g < n_gates; g++) {
                const char *mark = gate_mark(job, gates[g]);
                sb_printf(b, "<td class='%s'>%s</td>", strcmp(mark, "✘") == 0 ? "bad" : "ok", mark);
            }
            sb_printf(b, "</tr>\n");
        }
        sb_printf(b, "</table></div>\n");
    }
}

char *report_html(const json_t *r)
{
    struct sb b = {0};
    const json_t *sum = json_object_get(r, "summary");
    sb_printf(&b, "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>ingot batch report</title>\n"
                  "<style>\nbody{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\n"
                  "table{border-collapse:collapse;margin:8px 0 20px}\n.wrap{overflow-x:auto}\n"
                  "th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px}\nth{background:#f0f0f0}\n"
                  "td.n{text-align:right;font-variant-numeric:tabular-nums}\ntd.ok{color:#080;text-align:center}\n"
                  "td.bad{color:#c00;font-weight:bold;text-align:center}\ncode{font-size:12px}\n</style>\n</head>\n<body>\n");
    sb_printf(&b, "<h1>ingot batch report</h1>\n<p>Manifest <code>");
    sb_esc(&b, str(r, "manifest"));
    sb_printf(&b, "</code>, ingot %s: %lld job(s), <b>%lld gate(s) failed</b>, %lld viable under the envelope",
              str(r, "ingot_version"), (long long)json_integer_value(json_object_get(sum, "jobs")),
              (long long)json_integer_value(json_object_get(sum, "gates_failed")),
              (long long)json_integer_value(json_object_get(sum, "viable")));
    const json_t *env = json_object_get(r, "envelope");
    for (size_t i = 0; i < json_array_size(env); i++) {
        sb_printf(&b, "%s<code>", i ? ", " : " (");
        sb_esc(&b, json_string_value(json_array_get(env, i)));
        sb_printf(&b, "</code>");
    }
    sb_printf(&b, "%s. ★ marks the Pareto frontier.</p>\n", json_array_size(env) ? ")" : "");
    html_tables(&b, r);
    svg_pareto(&b, r);
    svg_delta_acc(&b, r);
    svg_heatmap(&b, r);
    sb_printf(&b, "</body>\n</html>\n");
    return sb_finish(&b);
}
