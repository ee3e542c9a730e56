/* manifest.c — read `ingot batch` manifests with libyaml into struct batch_manifest.
 *
 * The file is loaded as one YAML document (nodes carry line and column), then walked
 * section by section. Every mapping is checked against its list of keys before any value
 * is read, so an unknown or duplicate key is reported where it stands. Messages read
 * "FILE:LINE:COLUMN: key 'calibration.seq-len': '12x' is not an integer in 1..1048576".
 * The section readers are long straight runs of checks, one per key.
 */
#include "manifest.h"

#include "../common/ig_error.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---- the document --------------------------------------------------------------------------- */

struct rd {
    const char *path;
    yaml_document_t *doc;
};

static int fail_at(const struct rd *r, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const struct rd *r, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ig_error_set(IG_EINVAL, "%s:%zu:%zu: key '%s': %s", r->path, n->start_mark.line + 1,
                        n->start_mark.column + 1, key, msg);
}

static struct batch_where where(const yaml_node_t *n)
{
    return (struct batch_where){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static const char *kind_name(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? "a scalar" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Check that every key of mapping n is one of keys[] and none repeats. */
static int check_keys(const struct rd *r, const yaml_node_t *n, const char *where, const char *const *keys)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(r, n, where, "expected a mapping, found %s", kind_name(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(r->doc, p->key);
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(r, k, where, "a key must be a plain word, found %s", kind_name(k));
        bool known = false;
        for (int i = 0; keys[i]; i++)
            known |= strcmp(scalar(k), keys[i]) == 0;
        if (!known) {
            char allowed[512] = "";
            for (int i = 0; keys[i]; i++)
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", i ? ", " : "", keys[i]);
            return fail_at(r, k, scalar(k), "unknown key in %s (allowed: %s)", where, allowed);
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
            if (strcmp(scalar(yaml_document_get_node(r->doc, q->key)), scalar(k)) == 0)
                return fail_at(r, k, scalar(k), "appears twice in %s", where);
    }
    return 0;
}

/* The value of key in mapping n, or NULL. */
static yaml_node_t *get(const struct rd *r, const yaml_node_t *n, const char *key)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
        if (strcmp(scalar(yaml_document_get_node(r->doc, p->key)), key) == 0)
            return yaml_document_get_node(r->doc, p->value);
    return NULL;
}

static int get_str(const struct rd *r, const yaml_node_t *v, const char *key, char *out, size_t size)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(r, v, key, "expected a string, found %s", kind_name(v));
    if (v->data.scalar.length == 0)
        return fail_at(r, v, key, "is empty");
    if (v->data.scalar.length >= size)
        return fail_at(r, v, key, "longer than %zu characters", size - 1);
    memcpy(out, scalar(v), v->data.scalar.length + 1);
    return 0;
}

static int get_path(const struct rd *r, const struct batch_manifest *m, const yaml_node_t *v, const char *key,
                    char *out)
{
    char rel[BATCH_PATH_MAX];
    int rc = get_str(r, v, key, rel, sizeof rel);
    if (rc)
        return rc;
    if (rel[0] == '/' || strcmp(m->dir, ".") == 0)
        snprintf(out, BATCH_PATH_MAX, "%s", rel);
    else if ((size_t)snprintf(out, BATCH_PATH_MAX, "%s/%s", m->dir, rel) >= BATCH_PATH_MAX)
        return fail_at(r, v, key, "path too long");
    return 0;
}

static int get_int(const struct rd *r, const yaml_node_t *v, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(r, v, key, "expected an integer, found %s", kind_name(v));
    char *end;
    errno = 0;
    long long x = strtoll(scalar(v), &end, 10);
    if (!scalar(v)[0] || *end || errno || x < lo || x > hi)
        return fail_at(r, v, key, "'%s' is not an integer in %lld..%lld", scalar(v), (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

static int get_real(const struct rd *r, const yaml_node_t *v, const char *key, double lo, double hi, double *out)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(r, v, key, "expected a number, found %s", kind_name(v));
    char *end;
    double x = strtod(scalar(v), &end);
    if (!scalar(v)[0] || *end || !isfinite(x) || x < lo || x > hi)
        return fail_at(r, v, key, "'%s' is not a number in %g..%g", scalar(v), lo, hi);
    *out = x;
    return 0;
}

static int get_bool(const struct rd *r, const yaml_node_t *v, const char *key, bool *out)
{
    if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "true") == 0)
        *out = true;
    else if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "false") == 0)
        *out = false;
    else
        return fail_at(r, v, key, "expected true or false, found %s%s%s", v->type == YAML_SCALAR_NODE ? "'" : "",
                       v->type == YAML_SCALAR_NODE ? scalar(v) : kind_name(v), v->type == YAML_SCALAR_NODE ? "'" : "");
    return 0;
}

/* A scalar or a list of scalars into out[BATCH_MAX_LIST][width]. */
static int get_list(const struct rd *r, const yaml_node_t *v, const char *key, char *out, size_t width, int *n)
{
    *n = 0;
    if (v->type == YAML_SCALAR_NODE)
        return (*n = 1, get_str(r, v, key, out, width));
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(r, v, key, "expected a string or a list of strings, found %s", kind_name(v));
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        if (*n == BATCH_MAX_LIST)
            return fail_at(r, v, key, "more than %d entries", BATCH_MAX_LIST);
        int rc = get_str(r, yaml_document_get_node(r->doc, *it), key, out + (size_t)*n * width, width);
        if (rc)
            return rc;
        (*n)++;
    }
    if (*n == 0)
        return fail_at(r, v, key, "is an empty list");
    return 0;
}

/* ---- gates ---------------------------------------------------------------------------------- */

/* The figures `ingot verify` reports per container, and aliases the manifest may use. */
static const char *const core_figures[] = {"ppl", "ppl_ratio", "kld_mean", "kld_median", "kld_p99", "kld_max",
                                           "same_top_pct", "dp_rms", "bytes", "bits_per_weight", NULL};
static const char *const task_figures[] = {"acc",        "delta_acc", "macro_f1", "ece",
                                           "ece_post_t", "flips_right_to_wrong", NULL};
static const struct {
    const char *alias, *name;
} aliases[] = {{"bpw", "bits_per_weight"}, {"size_bytes", "bytes"}, {"size", "bytes"}};

static bool in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

bool batch_figure_needs_tasks(const char *name)
{
    return in_list(task_figures, name) || strncmp(name, "tasks.", 6) == 0;
}

bool batch_figure_known(const char *name)
{
    return in_list(core_figures, name) || in_list(task_figures, name) || strchr(name, '.') != NULL;
}

const char *batch_gate_op_name(enum batch_gate_op op)
{
    static const char *const names[] = {"<=", "<", ">=", ">"};
    return names[op];
}

bool batch_gate_holds(const struct batch_gate *g, double value)
{
    if (isnan(value))
        return false;
    switch (g->op) {
    case BATCH_OP_LE: return value <= g->threshold;
    case BATCH_OP_LT: return value < g->threshold;
    case BATCH_OP_GE: return value >= g->threshold;
    case BATCH_OP_GT: return value > g->threshold;
    }
    return false;
}

int batch_gate_parse(struct batch_gate *g, const char *text)
{
    memset(g, 0, sizeof *g);
    snprintf(g->text, sizeof g->text, "%s", text);
    char fig[BATCH_NAME_MAX], op[8], num[64], rest[64] = "";
    int n = sscanf(text, " %127[A-Za-z0-9_.] %7[<>=!] %63s %63[^\n]", fig, op, num, rest);
    if (n < 3)
        return ig_error_set(IG_EINVAL, "'%s' is not a gate: expected 'FIGURE OP NUMBER' such as 'kld_mean <= 0.01'",
                            text);
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(fig, aliases[i].alias) == 0)
            snprintf(fig, sizeof fig, "%s", aliases[i].name);
    if (!batch_figure_known(fig))
        return ig_error_set(IG_EINVAL,
                            "gate '%s': unknown figure '%s' (known: ppl, ppl_ratio, kld_mean, kld_median, kld_p99, "
                            "kld_max, same_top_pct, dp_rms, bytes (size_bytes), bits_per_weight (bpw), acc, delta_acc, "
                            "macro_f1, ece, ece_post_t, flips_right_to_wrong, or a dotted path into verify's JSON)",
                            text, fig);
    snprintf(g->figure, sizeof g->figure, "%s", fig);
    if (strcmp(op, "<=") == 0)
        g->op = BATCH_OP_LE;
    else if (strcmp(op, "<") == 0)
        g->op = BATCH_OP_LT;
    else if (strcmp(op, ">=") == 0)
        g->op = BATCH_OP_GE;
    else if (strcmp(op, ">") == 0)
        g->op = BATCH_OP_GT;
    else
        return ig_error_set(IG_EINVAL, "gate '%s': operator '%s' (allowed: <=, <, >=, >)", text, op);
    char *end;
    g->threshold = strtod(num, &end);
    if (*end || !isfinite(g->threshold))
        return ig_error_set(IG_EINVAL, "gate '%s': '%s' is not a number", text, num);
    if (rest[0]) {
        if (strcmp(rest, "unless not real") != 0)
            return ig_error_set(IG_EINVAL, "gate '%s': '%s' after the number (allowed: 'unless not real')", text, rest);
        g->unless_not_real = true;
    }
    return 0;
}

static int get_gates(const struct rd *r, const yaml_node_t *v, const char *key, struct batch_gate *gates, int *n,
                     bool have_tasks)
{
    *n = 0;
    if (v->type != YAML_SEQUENCE_NODE)
        return fail_at(r, v, key, "expected a list of gates such as ['kld_mean <= 0.01'], found %s", kind_name(v));
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *g = yaml_document_get_node(r->doc, *it);
        if (*n == BATCH_MAX_GATES)
            return fail_at(r, g, key, "more than %d gates", BATCH_MAX_GATES);
        if (g->type != YAML_SCALAR_NODE)
            return fail_at(r, g, key, "expected a gate such as 'kld_mean <= 0.01', found %s", kind_name(g));
        if (batch_gate_parse(&gates[*n], scalar(g)) != 0)
            return fail_at(r, g, key, "%s", ig_error_message());
        if (!have_tasks && batch_figure_needs_tasks(gates[*n].figure))
            return fail_at(r, g, key, "gate '%s' needs task figures, but evaluation.tasks is not given", scalar(g));
        (*n)++;
    }
    return 0;
}

/* ---- sections ------------------------------------------------------------------------------- */

static int read_sources(const struct rd *r, struct batch_manifest *m, const yaml_node_t *v)
{
    static const char *const keys[] = {"name", "path", NULL};
    if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.start == v->data.sequence.items.top)
        return fail_at(r, v, "sources", "expected a non-empty list of {name, path}");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *s = yaml_document_get_node(r->doc, *it);
        if (m->n_sources == BATCH_MAX_SOURCES)
            return fail_at(r, s, "sources", "more than %d sources", BATCH_MAX_SOURCES);
        struct batch_source *src = &m->sources[m->n_sources];
        int rc = check_keys(r, s, "sources[]", keys);
        if (rc)
            return rc;
        yaml_node_t *path = get(r, s, "path"), *name = get(r, s, "name");
        if (!path)
            return fail_at(r, s, "sources[].path", "is missing");
        if ((rc = get_path(r, m, path, "sources[].path", src->path)))
            return rc;
        src->at = where(path);
        if (name) {
            if ((rc = get_str(r, name, "sources[].name", src->name, sizeof src->name)))
                return rc;
        } else {
            const char *slash = strrchr(scalar(path), '/');
            snprintf(src->name, sizeof src->name, "%s", slash && slash[1] ? slash + 1 : scalar(path));
        }
        for (int i = 0; i < m->n_sources; i++)
            if (strcmp(m->sources[i].name, src->name) == 0)
                return fail_at(r, name ? name : path, "sources[].name", "'%s' names two sources", src->name);
        m->n_sources++;
    }
    return 0;
}

static int read_calibration(const struct rd *r, struct batch_manifest *m, const yaml_node_t *v)
{
    static const char *const keys[] = {"text", "samples", "seq-len", "seed", NULL};
    int rc = check_keys(r, v, "calibration", keys);
    yaml_node_t *x;
    if (rc)
        return rc;
    if (!(x = get(r, v, "text")))
        return fail_at(r, v, "calibration.text", "is missing");
    if ((rc = get_path(r, m, x, "calibration.text", m->calib_text)))
        return rc;
    m->calib_at = where(x);
    if ((x = get(r, v, "samples")) && (rc = get_int(r, x, "calibration.samples", 1, 1 << 20, &m->calib_samples)))
        return rc;
    if ((x = get(r, v, "seq-len")) && (rc = get_int(r, x, "calibration.seq-len", 1, 1 << 20, &m->calib_seq_len)))
        return rc;
    if ((x = get(r, v, "seed")) && (rc = get_int(r, x, "calibration.seed", 0, INT64_MAX, &m->calib_seed)))
        return rc;
    return 0;
}

static int read_evaluation(const struct rd *r, struct batch_manifest *m, const yaml_node_t *v)
{
    static const char *const keys[] = {"text", "ctx", "chunks", "tasks", "task-limit", NULL};
    int rc = check_keys(r, v, "evaluation", keys);
    yaml_node_t *x;
    if (rc)
        return rc;
    if (!(x = get(r, v, "text")))
        return fail_at(r, v, "evaluation.text", "is missing");
    if ((rc = get_path(r, m, x, "evaluation.text", m->eval_text)))
        return rc;
    m->eval_at = where(x);
    if ((x = get(r, v, "ctx")) && (rc = get_int(r, x, "evaluation.ctx", 8, 1 << 20, &m->eval_ctx)))
        return rc;
    if ((x = get(r, v, "chunks")) && (rc = get_int(r, x, "evaluation.chunks", 1, 1 << 30, &m->eval_chunks)))
        return rc;
    if ((x = get(r, v, "task-limit")) &&
        (rc = get_int(r, x, "evaluation.task-limit", 1, INT64_MAX, &m->eval_task_limit)))
        return rc;
    if ((x = get(r, v, "tasks"))) {
        char rel[BATCH_MAX_LIST][BATCH_PATH_MAX];
        if ((rc = get_list(r, x, "evaluation.tasks", &rel[0][0], BATCH_PATH_MAX, &m->n_tasks)))
            return rc;
        for (int i = 0; i < m->n_tasks; i++) {
            /* KIND:PATH (verify's --tasks form) keeps its KIND: in front of the resolved path */
            const char *colon = strchr(rel[i], ':'), *slash = strchr(rel[i], '/');
            int kind_len = colon && (!slash || colon < slash) ? (int)(colon - rel[i]) + 1 : 0;
            const char *p = rel[i] + kind_len;
            snprintf(m->tasks[i], BATCH_PATH_MAX, "%.*s%.500s%s%.500s", kind_len, rel[i], p[0] == '/' ? "" : m->dir,
                     p[0] == '/' ? "" : "/", p);
        }
    }
    return 0;
}

static const char *const methods[] = {"rtn", "gptq", "awq", "awq+gptq", NULL};

/* One entry of jobs:. Long: one check per key, in the order of the schema. */
static int read_spec(const struct rd *r, struct batch_manifest *m, const yaml_node_t *v, struct batch_job_spec *s)
{
    static const char *const keys[] = {"name",    "method",   "methods",   "types",      "type",    "tensor-type",
                                       "output-type", "embed-type", "pure", "imatrix", "damp",  "act-order",
                                       "group-size", "samples", "seq-len", "seed", "gates", "calibrate", NULL};
    int rc = check_keys(r, v, "jobs[]", keys);
    yaml_node_t *x;
    if (rc)
        return rc;
    s->line = (int)v->start_mark.line + 1;
    s->column = (int)v->start_mark.column + 1;
    s->damp = -1;
    s->samples = s->seq_len = s->seed = -1;
    if ((x = get(r, v, "name")) && (rc = get_str(r, x, "jobs[].name", s->name, sizeof s->name)))
        return rc;
    if (get(r, v, "method") && get(r, v, "methods"))
        return fail_at(r, v, "jobs[].method", "give method or methods, not both");
    if (!(x = get(r, v, "method")) && !(x = get(r, v, "methods")))
        return fail_at(r, v, "jobs[].method", "is missing (allowed: rtn, gptq, awq, awq+gptq)");
    if ((rc = get_list(r, x, "jobs[].method", &s->methods[0][0], sizeof s->methods[0], &s->n_methods)))
        return rc;
    for (int i = 0; i < s->n_methods; i++)
        if (!in_list(methods, s->methods[i]))
            return fail_at(r, x, "jobs[].method", "'%s' (allowed: rtn, gptq, awq, awq+gptq)", s->methods[i]);
    if (get(r, v, "type") && get(r, v, "types"))
        return fail_at(r, v, "jobs[].types", "give type or types, not both");
    if (!(x = get(r, v, "types")) && !(x = get(r, v, "type")))
        return fail_at(r, v, "jobs[].types", "is missing (a list such as [Q4_K_M, Q8_0])");
    if ((rc = get_list(r, x, "jobs[].types", &s->types[0][0], sizeof s->types[0], &s->n_types)))
        return rc;
    if ((x = get(r, v, "tensor-type"))) {
        if ((rc = get_list(r, x, "jobs[].tensor-type", &s->tensor_types[0][0], sizeof s->tensor_types[0],
                           &s->n_tensor_types)))
            return rc;
        for (int i = 0; i < s->n_tensor_types; i++)
            if (!strchr(s->tensor_types[i], '='))
                return fail_at(r, x, "jobs[].tensor-type", "'%s' is not REGEX=TYPE", s->tensor_types[i]);
    }
    if ((x = get(r, v, "output-type")) && (rc = get_str(r, x, "jobs[].output-type", s->output_type, 32)))
        return rc;
    if ((x = get(r, v, "embed-type")) && (rc = get_str(r, x, "jobs[].embed-type", s->embed_type, 32)))
        return rc;
    if ((x = get(r, v, "pure")) && (rc = get_bool(r, x, "jobs[].pure", &s->pure)))
        return rc;
    if ((x = get(r, v, "imatrix")) && (rc = get_path(r, m, x, "jobs[].imatrix", s->imatrix)))
        return rc;
    if ((x = get(r, v, "calibrate")) && (rc = get_bool(r, x, "jobs[].calibrate", &s->calibrate)))
        return rc;
    if (s->calibrate && s->imatrix[0])
        return fail_at(r, x, "jobs[].calibrate", "and jobs[].imatrix both give importance; pass one");
    if (s->calibrate && !m->calib_text[0])
        return fail_at(r, x, "jobs[].calibrate", "needs a calibration section (calibration.text)");
    if ((x = get(r, v, "damp")) && (rc = get_real(r, x, "jobs[].damp", 0, 10, &s->damp)))
        return rc;
    if ((x = get(r, v, "act-order")) && (rc = get_bool(r, x, "jobs[].act-order", &s->act_order)))
        return rc;
    if ((x = get(r, v, "group-size"))) {
        if ((rc = get_int(r, x, "jobs[].group-size", 32, 128, &s->group_size)))
            return rc;
        if (s->group_size != 32 && s->group_size != 64 && s->group_size != 128)
            return fail_at(r, x, "jobs[].group-size", "%lld (allowed: 32, 64, 128)", (long long)s->group_size);
        for (int i = 0; i < s->n_types; i++)
            if (strcmp(s->types[i], "I4") != 0 && strcmp(s->types[i], "I8") != 0)
                return fail_at(r, x, "jobs[].group-size", "applies to types I4 and I8 (giving I4_G<n>), not '%s'",
                               s->types[i]);
    }
    if ((x = get(r, v, "samples")) && (rc = get_int(r, x, "jobs[].samples", 1, 1 << 20, &s->samples)))
        return rc;
    if ((x = get(r, v, "seq-len")) && (rc = get_int(r, x, "jobs[].seq-len", 1, 1 << 20, &s->seq_len)))
        return rc;
    if ((x = get(r, v, "seed")) && (rc = get_int(r, x, "jobs[].seed", 0, INT64_MAX, &s->seed)))
        return rc;
    if ((x = get(r, v, "gates")) && (rc = get_gates(r, x, "jobs[].gates", s->gates, &s->n_gates, m->n_tasks > 0)))
        return rc;
    for (int i = 0; i < s->n_methods; i++)
        if (strcmp(s->methods[i], "rtn") != 0 && !m->calib_text[0])
            return fail_at(r, v, "jobs[].method", "'%s' needs a calibration section (calibration.text)", s->methods[i]);
    return 0;
}

static int read_jobs(const struct rd *r, struct batch_manifest *m, const yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.start == v->data.sequence.items.top)
        return fail_at(r, v, "jobs", "expected a non-empty list of {method, types, ...}");
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *s = yaml_document_get_node(r->doc, *it);
        if (m->n_specs == BATCH_MAX_SPECS)
            return fail_at(r, s, "jobs", "more than %d entries", BATCH_MAX_SPECS);
        int rc = read_spec(r, m, s, &m->specs[m->n_specs]);
        if (rc)
            return rc;
        m->n_specs++;
    }
    return 0;
}

static int read_output(const struct rd *r, struct batch_manifest *m, const yaml_node_t *v)
{
    static const char *const keys[] = {"dir", "name", NULL};
    int rc = check_keys(r, v, "output", keys);
    yaml_node_t *x;
    if (rc)
        return rc;
    if (!(x = get(r, v, "dir")))
        return fail_at(r, v, "output.dir", "is missing");
    if ((rc = get_path(r, m, x, "output.dir", m->output_dir)))
        return rc;
    if ((x = get(r, v, "name"))) {
        if ((rc = get_str(r, x, "output.name", m->output_name, sizeof m->output_name)))
            return rc;
        if (strchr(m->output_name, '/') || !strstr(m->output_name, "{type}"))
            return fail_at(r, x, "output.name", "'%s' must be a file name containing {type} (and may use {source}, "
                           "{method}, {job})", m->output_name);
        for (const char *p = strchr(m->output_name, '{'); p; p = strchr(p + 1, '{'))
            if (strncmp(p, "{type}", 6) && strncmp(p, "{source}", 8) && strncmp(p, "{method}", 8) &&
                strncmp(p, "{job}", 5))
                return fail_at(r, x, "output.name", "unknown placeholder at '%s' (allowed: {source}, {type}, "
                               "{method}, {job})", p);
    }
    return 0;
}

/* ---- the whole file ------------------------------------------------------------------------- */

static int read_root(const struct rd *r, struct batch_manifest *m, yaml_node_t *root)
{
    static const char *const keys[] = {"version",  "sources", "calibration", "evaluation",
                                       "jobs",     "output",  "gates",       "envelope", NULL};
    int rc = check_keys(r, root, "the manifest", keys);
    yaml_node_t *x;
    int64_t version;
    if (rc)
        return rc;
    if ((x = get(r, root, "version")) && (rc = get_int(r, x, "version", 1, 1, &version)))
        return rc;
    if (!(x = get(r, root, "sources")))
        return fail_at(r, root, "sources", "is missing");
    if ((rc = read_sources(r, m, x)))
        return rc;
    if ((x = get(r, root, "calibration")) && (rc = read_calibration(r, m, x)))
        return rc;
    if (!(x = get(r, root, "evaluation")))
        return fail_at(r, root, "evaluation", "is missing (text, ctx, chunks, tasks)");
    if ((rc = read_evaluation(r, m, x)))
        return rc;
    if (!(x = get(r, root, "jobs")))
        return fail_at(r, root, "jobs", "is missing");
    if ((rc = read_jobs(r, m, x)))
        return rc;
    if (!(x = get(r, root, "output")))
        return fail_at(r, root, "output", "is missing (dir, name)");
    if ((rc = read_output(r, m, x)))
        return rc;
    if ((x = get(r, root, "gates")) && (rc = get_gates(r, x, "gates", m->gates, &m->n_gates, m->n_tasks > 0)))
        return rc;
    if ((x = get(r, root, "envelope")) &&
        (rc = get_gates(r, x, "envelope", m->envelope, &m->n_envelope, m->n_tasks > 0)))
        return rc;
    return 0;
}

static int check_file(const struct batch_manifest *m, const char *path, struct batch_where at, const char *key)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    return ig_error_set(IG_EINVAL, "%s:%d:%d: key '%s': '%s': %s", m->path, at.line, at.column, key, path,
                        strerror(errno));
}

int batch_manifest_check_files(const struct batch_manifest *m)
{
    int rc = 0;
    for (int i = 0; i < m->n_sources && !rc; i++)
        rc = check_file(m, m->sources[i].path, m->sources[i].at, "sources[].path");
    if (!rc && m->calib_text[0])
        rc = check_file(m, m->calib_text, m->calib_at, "calibration.text");
    if (!rc)
        rc = check_file(m, m->eval_text, m->eval_at, "evaluation.text");
    for (int i = 0; i < m->n_tasks && !rc; i++) {
        const char *colon = strchr(m->tasks[i], ':'), *slash = strchr(m->tasks[i], '/');
        rc = check_file(m, colon && (!slash || colon < slash) ? colon + 1 : m->tasks[i], m->eval_at, "evaluation.tasks");
    }
    for (int s = 0; s < m->n_specs && !rc; s++)
        if (m->specs[s].imatrix[0])
            rc = check_file(m, m->specs[s].imatrix, (struct batch_where){m->specs[s].line, 1}, "jobs[].imatrix");
    return rc;
}

int batch_manifest_read(struct batch_manifest *m, const char *path)
{
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    const char *slash = strrchr(path, '/');
    snprintf(m->dir, sizeof m->dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path)
        snprintf(m->dir, sizeof m->dir, "/");
    m->calib_samples = 128;
    m->calib_seq_len = 256;
    m->eval_ctx = 256;
    snprintf(m->output_name, sizeof m->output_name, "{source}-{type}-{method}.gguf");

    FILE *f = fopen(path, "rb");
    if (!f)
        return ig_error_set(errno == ENOENT ? IG_EINVAL : IG_EIO, "%s: cannot open the manifest: %s", path,
                            strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return ig_error_set(IG_ENOMEM, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = ig_error_set(IG_EINVAL, "%s:%zu:%zu: key '(syntax)': %s%s%s", path, parser.problem_mark.line + 1,
                          parser.problem_mark.column + 1, parser.problem ? parser.problem : "not YAML",
                          parser.context ? " " : "", parser.context ? parser.context : "");
        goto out_parser;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    struct rd r = {path, &doc};
    if (!root)
        rc = ig_error_set(IG_EINVAL, "%s:1:1: key 'sources': the manifest is empty", path);
    else
        rc = read_root(&r, m, root);
    yaml_document_delete(&doc);
    if (!rc) {
        /* a second document ("---") would be ignored: refuse it instead */
        if (!yaml_parser_load(&parser, &doc))
            rc = ig_error_set(IG_EINVAL, "%s:%zu:%zu: key '(syntax)': %s", path, parser.problem_mark.line + 1,
                              parser.problem_mark.column + 1, parser.problem ? parser.problem : "not YAML");
        else {
            yaml_node_t *extra = yaml_document_get_root_node(&doc);
            if (extra)
                rc = ig_error_set(IG_EINVAL, "%s:%zu:%zu: key '(document)': a second YAML document; a manifest is one",
                                  path, extra->start_mark.line + 1, extra->start_mark.column + 1);
            yaml_document_delete(&doc);
        }
    }
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}
