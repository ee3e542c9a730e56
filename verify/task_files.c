/* task_files.c — HellaSwag text, multiple-choice, classification and LAMBADA files into a
 * struct task_set (formats in task_files.h). The JSON readers are one straight run of checks
 * per schema: each check names the file, the line and the field, and what was allowed.
 * Data flow: task file → task_set (here) → tokenized options and scores (tasks.c).
 */
#include "task_files.h"

#include "cloze.h"
#include "mt19937.h"

#include "../common/ig_error.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The loader's state: the file's bytes cut into lines, and where we are. */
struct reader {
    const char *path;
    char *data;          /* whole file, NUL-terminated; lines are cut in place */
    char **lines;        /* [n_lines] */
    int64_t n_lines;
    struct task_set *t;
    size_t n_bytes;
    int8_t *piqa_labels;     /* [n_piqa_labels] 0, 1 or -1 (not a label), once read */
    int64_t n_piqa_labels;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = ig_malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
    char *d = ig_malloc(na + nb + nc + 1);
    if (d) {
        memcpy(d, a, na);
        memcpy(d + na, b, nb);
        memcpy(d + na + nb, c, nc + 1);
    }
    return d;
}

static int bad(const struct reader *r, int64_t line, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* IG_EINVAL with "task file FILE:LINE: field 'F': <what>". */
static int bad(const struct reader *r, int64_t line, const char *field, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (field)
        return ig_error_set(IG_EINVAL, "task file %s:%lld: field '%s': %s", r->path, (long long)line, field, what);
    return ig_error_set(IG_EINVAL, "task file %s:%lld: %s", r->path, (long long)line, what);
}

static int read_file(struct reader *r)
{
    FILE *f = fopen(r->path, "rb");
    if (!f)
        return ig_error_set(errno == ENOENT ? IG_EINVAL : IG_EIO, "task file %s: cannot open: %s", r->path,
                            strerror(errno));
    size_t cap = 1 << 16, n = 0;
    r->data = ig_malloc(cap);
    int rc = r->data ? 0 : IG_ENOMEM;
    while (!rc) {
        if (n + 1 >= cap) {
            char *grown = ig_realloc(r->data, cap *= 2);
            if (!grown) {
                rc = IG_ENOMEM;
                break;
            }
            r->data = grown;
        }
        size_t got = fread(r->data + n, 1, cap - 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!rc && ferror(f))
        rc = ig_error_set(IG_EIO, "task file %s: read failed", r->path);
    fclose(f);
    if (rc)
        return rc;
    r->data[n] = '\0';
    r->n_bytes = n;
    return 0;
}

/* Cut r->data (r->n_bytes bytes) into lines in place. */
static int split_lines(struct reader *r)
{
    const size_t n = r->n_bytes;
    /* std::getline semantics: a final '\n' does not start another line */
    int64_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += r->data[i] == '\n';
    count += n > 0 && r->data[n - 1] != '\n';
    r->lines = ig_malloc((size_t)(count > 0 ? count : 1) * sizeof *r->lines);
    if (!r->lines)
        return IG_ENOMEM;
    char *p = r->data;
    for (int64_t k = 0; k < count; k++) {
        r->lines[k] = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        }
    }
    r->n_lines = count;
    return 0;
}

/* Category id of name, added when new; -1 on allocation failure. */
static int32_t intern_category(struct task_set *t, const char *name, size_t len)
{
    for (int64_t i = 0; i < t->n_categories; i++)
        if (strlen(t->categories[i]) == len && memcmp(t->categories[i], name, len) == 0)
            return (int32_t)i;
    char **grown = ig_realloc(t->categories, (size_t)(t->n_categories + 1) * sizeof *grown);
    if (!grown)
        return -1;
    t->categories = grown;
    char *s = ig_malloc(len + 1);
    if (!s)
        return -1;
    memcpy(s, name, len);
    s[len] = '\0';
    t->categories[t->n_categories] = s;
    return (int32_t)t->n_categories++;
}

/* A new item with n_options empty options at the end of t->items (capacity grown as needed). */
static struct task_item *push_item(struct task_set *t, int64_t line, int32_t n_options)
{
    if ((t->n_items & (t->n_items - 1)) == 0) {   /* grow at powers of two */
        struct task_item *grown = ig_realloc(t->items, (size_t)(t->n_items ? 2 * t->n_items : 1) * sizeof *grown);
        if (!grown)
            return NULL;
        t->items = grown;
    }
    struct task_item *it = &t->items[t->n_items];
    *it = (struct task_item){.line = line, .index = t->n_items, .n_options = n_options, .category = -1};
    it->options = ig_calloc((size_t)n_options, sizeof *it->options);
    if (!it->options)
        return NULL;
    t->n_items++;
    return it;
}

static int set_option(struct task_option *o, const char *context, const char *sep, const char *continuation)
{
    o->context = dup_str(context);
    o->continuation = cat3(sep, continuation, "");
    return o->context && o->continuation ? 0 : IG_ENOMEM;
}

/* ---- HellaSwag text -------------------------------------------------------------------------- */

static int load_hellaswag(struct reader *r)
{
    struct task_set *t = r->t;
    if (r->n_lines == 0 || r->n_lines % 6 != 0)
        return bad(r, r->n_lines, NULL, "%lld lines; the HellaSwag format has 6 lines per item", (long long)r->n_lines);
    for (int64_t k = 0; k < r->n_lines; k += 6) {
        const char *ctx = r->lines[k], *g = r->lines[k + 1];
        if (!(g[0] >= '0' && g[0] <= '3' && (g[1] == '\0' || (g[1] == '\r' && g[2] == '\0'))))
            return bad(r, k + 2, "gold", "'%.40s' is not an ending index 0..3", g);
        struct task_item *it = push_item(t, k + 1, 4);
        if (!it)
            return IG_ENOMEM;
        it->gold = g[0] - '0';
        const char *colon = strstr(ctx, ": ");
        if (colon && (it->category = intern_category(t, ctx, (size_t)(colon - ctx))) < 0)
            return IG_ENOMEM;
        for (int j = 0; j < 4; j++)
            if (set_option(&it->options[j], ctx, " ", r->lines[k + 2 + j]))
                return IG_ENOMEM;
    }
    return 0;
}

/* ---- cloze: plain text into multiple-choice JSON lines --------------------------------------- */

static int build_cloze(struct reader *r)
{
    struct cloze_opts o = {.seed = TASK_CLOZE_SEED, .max_items = TASK_CLOZE_ITEMS, .n_choices = 4, .max_context_bytes = 400};
    char *jsonl;
    int64_t n_items;
    int rc = cloze_build(r->data, r->n_bytes, &o, &jsonl, &n_items);
    if (rc)
        return ig_error_wrap(rc, "task file %s", r->path);
    free(r->data);
    r->data = jsonl;
    r->n_bytes = strlen(jsonl);
    return 0;
}

/* ---- JSON fields ------------------------------------------------------------------------------ */

static int get_string(const struct reader *r, int64_t line, json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return bad(r, line, key, "missing");
    if (!json_is_string(v))
        return bad(r, line, key, "not a string");
    *out = json_string_value(v);
    return 0;
}

static int get_gold(const struct reader *r, int64_t line, json_t *o, const char *key, int32_t n_options, int32_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return bad(r, line, key, "missing");
    if (!json_is_integer(v))
        return bad(r, line, key, "not an integer");
    json_int_t g = json_integer_value(v);
    if (g < 0 || g >= n_options)
        return bad(r, line, key, "%lld is out of range (0..%d)", (long long)g, (int)n_options - 1);
    *out = (int32_t)g;
    return 0;
}

/* An array of >= 2 strings. */
static int get_string_array(const struct reader *r, int64_t line, json_t *o, const char *key, json_t **out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return bad(r, line, key, "missing");
    if (!json_is_array(v))
        return bad(r, line, key, "not an array");
    if (json_array_size(v) < 2)
        return bad(r, line, key, "%zu entries; at least 2 are needed", json_array_size(v));
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return bad(r, line, key, "entry %zu is not a string", i);
    if (json_array_size(v) > INT32_MAX / 2)
        return bad(r, line, key, "%zu entries is too many", json_array_size(v));
    *out = v;
    return 0;
}

static int set_item_category(const struct reader *r, int64_t line, json_t *o, struct task_item *it)
{
    json_t *c = json_object_get(o, "category");
    if (!c)
        return 0;
    if (!json_is_string(c))
        return bad(r, line, "category", "not a string");
    it->category = intern_category(r->t, json_string_value(c), strlen(json_string_value(c)));
    return it->category < 0 ? IG_ENOMEM : 0;
}

/* ---- multiple choice --------------------------------------------------------------------------- */

static int load_query_choices(struct reader *r, int64_t line, json_t *o)
{
    const char *query = NULL;
    json_t *choices = NULL;
    int32_t gold = 0;
    int rc = get_string(r, line, o, "query", &query);
    if (!rc)
        rc = get_string_array(r, line, o, "choices", &choices);
    if (!rc)
        rc = get_gold(r, line, o, "gold", (int32_t)json_array_size(choices), &gold);
    if (rc)
        return rc;
    struct task_item *it = push_item(r->t, line, (int32_t)json_array_size(choices));
    if (!it)
        return IG_ENOMEM;
    it->gold = gold;
    for (int32_t j = 0; j < it->n_options && !rc; j++)
        rc = set_option(&it->options[j], query, " ", json_string_value(json_array_get(choices, (size_t)j)));
    return rc ? rc : set_item_category(r, line, o, it);
}

static int load_winogrande(struct reader *r, int64_t line, json_t *o)
{
    json_t *contexts = NULL;
    const char *cont = NULL;
    int32_t gold = 0;
    int rc = get_string_array(r, line, o, "context_options", &contexts);
    if (!rc)
        rc = get_string(r, line, o, "continuation", &cont);
    if (!rc)
        rc = get_gold(r, line, o, "gold", (int32_t)json_array_size(contexts), &gold);
    if (rc)
        return rc;
    struct task_item *it = push_item(r->t, line, (int32_t)json_array_size(contexts));
    if (!it)
        return IG_ENOMEM;
    it->gold = gold;
    for (int32_t j = 0; j < it->n_options && !rc; j++)
        rc = set_option(&it->options[j], json_string_value(json_array_get(contexts, (size_t)j)), " ", cont);
    return rc ? rc : set_item_category(r, line, o, it);
}

/* PIQA's labels: NAME.jsonl → NAME-labels.lst, read once; the label of the item-th JSON line. */
static int piqa_label(struct reader *r, int64_t item, int32_t *out)
{
    char lst[4096];
    const char *dot = strstr(r->path, ".jsonl");
    int len = dot ? (int)(dot - r->path) : (int)strlen(r->path);
    snprintf(lst, sizeof lst, "%.*s-labels.lst", len, r->path);
    if (!r->piqa_labels) {
        FILE *f = fopen(lst, "r");
        if (!f)
            return ig_error_set(IG_EINVAL, "task file %s: PIQA items without a 'label' field need the labels file %s: %s",
                                r->path, lst, strerror(errno));
        r->piqa_labels = ig_malloc((size_t)(r->n_lines > 0 ? r->n_lines : 1));
        char buf[64];
        while (r->piqa_labels && r->n_piqa_labels < r->n_lines && fgets(buf, sizeof buf, f))
            r->piqa_labels[r->n_piqa_labels++] = buf[0] == '0' || buf[0] == '1' ? buf[0] - '0' : -1;
        fclose(f);
        if (!r->piqa_labels)
            return IG_ENOMEM;
    }
    if (item >= r->n_piqa_labels || r->piqa_labels[item] < 0)
        return ig_error_set(IG_EINVAL, "task file %s: field 'label': no 0/1 label for item %lld at line %lld of %s",
                            r->path, (long long)item + 1, (long long)item + 1, lst);
    *out = r->piqa_labels[item];
    return 0;
}

static int load_piqa(struct reader *r, int64_t line, json_t *o)
{
    const char *goal = NULL, *sol[2] = {NULL, NULL};
    int32_t gold = 0;
    int rc = get_string(r, line, o, "goal", &goal);
    if (!rc)
        rc = get_string(r, line, o, "sol1", &sol[0]);
    if (!rc)
        rc = get_string(r, line, o, "sol2", &sol[1]);
    if (!rc)
        rc = json_object_get(o, "label") ? get_gold(r, line, o, "label", 2, &gold) : piqa_label(r, r->t->n_items, &gold);
    if (rc)
        return rc;
    char *prompt = cat3("Question: ", goal, "\nAnswer:");   /* lm-eval's PIQA prompt */
    struct task_item *it = prompt ? push_item(r->t, line, 2) : NULL;
    for (int j = 0; it && j < 2 && !rc; j++)
        rc = set_option(&it->options[j], prompt, " ", sol[j]);
    free(prompt);
    if (!it)
        return IG_ENOMEM;
    it->gold = gold;
    return rc ? rc : set_item_category(r, line, o, it);
}

/* ---- LAMBADA ----------------------------------------------------------------------------------- */

static int load_lambada(struct reader *r, int64_t line, json_t *o)
{
    const char *ctx = NULL, *cont = NULL;
    int rc = get_string(r, line, o, "context", &ctx);
    if (!rc)
        rc = get_string(r, line, o, "continuation", &cont);
    if (!rc && cont[0] == '\0')
        rc = bad(r, line, "continuation", "empty");
    if (rc)
        return rc;
    struct task_item *it = push_item(r->t, line, 1);
    return it ? set_option(&it->options[0], ctx, " ", cont) : IG_ENOMEM;
}

/* ---- classification ----------------------------------------------------------------------------- */

/* The header line {"labels": [...], "verbalizers": [...]}: verbalizers stored as item
 * continuations later; here the labels, and the verbalizers in *verb (borrowed from o). */
static int load_cls_header(struct reader *r, int64_t line, json_t *o, json_t **verb)
{
    struct task_set *t = r->t;
    json_t *labels;
    int rc = get_string_array(r, line, o, "labels", &labels);
    *verb = json_object_get(o, "verbalizers");
    if (!rc && *verb && (!json_is_array(*verb) || json_array_size(*verb) != json_array_size(labels)))
        rc = bad(r, line, "verbalizers", "not an array of %zu strings, one per label", json_array_size(labels));
    if (rc)
        return rc;
    t->labels = ig_calloc(json_array_size(labels), sizeof *t->labels);
    if (!t->labels)
        return IG_ENOMEM;
    for (size_t i = 0; i < json_array_size(labels); i++) {
        const char *s = json_string_value(json_array_get(labels, i));
        for (int32_t k = 0; k < t->n_labels; k++)
            if (strcmp(t->labels[k], s) == 0)
                return bad(r, line, "labels", "'%s' appears twice", s);
        if (*verb && !json_is_string(json_array_get(*verb, i)))
            return bad(r, line, "verbalizers", "entry %zu is not a string", i);
        if (!(t->labels[t->n_labels++] = dup_str(s)))
            return IG_ENOMEM;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Without a header: the labels seen, sorted. */
static int collect_cls_labels(struct reader *r, json_t **rows, int64_t n_rows)
{
    struct task_set *t = r->t;
    t->labels = ig_calloc((size_t)(n_rows > 0 ? n_rows : 1), sizeof *t->labels);
    if (!t->labels)
        return IG_ENOMEM;
    for (int64_t k = 0; k < n_rows; k++) {
        if (!rows[k])
            continue;
        json_t *v = json_object_get(rows[k], "label");
        if (!json_is_string(v))
            continue;   /* reported with its line when the item is read */
        int seen = 0;
        for (int32_t i = 0; i < t->n_labels && !seen; i++)
            seen = strcmp(t->labels[i], json_string_value(v)) == 0;
        if (!seen && !(t->labels[t->n_labels++] = dup_str(json_string_value(v))))
            return IG_ENOMEM;
    }
    qsort(t->labels, (size_t)t->n_labels, sizeof *t->labels, cmp_str);
    return 0;
}

static int load_cls_item(struct reader *r, int64_t line, json_t *o, json_t *verb)
{
    struct task_set *t = r->t;
    const char *text = NULL, *label = NULL;
    int rc = get_string(r, line, o, "text", &text);
    if (!rc)
        rc = get_string(r, line, o, "label", &label);
    if (rc)
        return rc;
    int32_t gold = -1;
    for (int32_t i = 0; i < t->n_labels && gold < 0; i++)
        if (strcmp(t->labels[i], label) == 0)
            gold = i;
    if (gold < 0)
        return bad(r, line, "label", "'%.80s' is not in the label list (%d labels, first '%s')", label,
                   (int)t->n_labels, t->n_labels ? t->labels[0] : "");
    struct task_item *it = push_item(t, line, t->n_labels);
    if (!it)
        return IG_ENOMEM;
    it->gold = gold;
    it->category = intern_category(t, label, strlen(label));
    for (int32_t j = 0; j < t->n_labels && !rc; j++)
        rc = verb ? set_option(&it->options[j], text, "", json_string_value(json_array_get(verb, (size_t)j)))
                  : set_option(&it->options[j], text, " ", t->labels[j]);
    return rc ? rc : it->category < 0 ? IG_ENOMEM : 0;
}

/* ---- JSON lines --------------------------------------------------------------------------------- */

static const char *detect_schema(json_t *o, enum task_kind kind)
{
    if (kind == TASK_KIND_CLS)
        return "cls";
    if (kind == TASK_KIND_LAMBADA)
        return "lambada";
    if (json_object_get(o, "context_options"))
        return "winogrande";
    if (json_object_get(o, "goal"))
        return "piqa";
    if (kind == TASK_KIND_MC || json_object_get(o, "query") || json_object_get(o, "choices"))
        return "query_choices";
    if (json_object_get(o, "labels") || (json_object_get(o, "text") && json_object_get(o, "label")))
        return "cls";
    if (json_object_get(o, "context") && json_object_get(o, "continuation"))
        return "lambada";
    return NULL;
}

static enum task_kind schema_kind(const char *schema)
{
    return strcmp(schema, "cls") == 0 ? TASK_KIND_CLS : strcmp(schema, "lambada") == 0 ? TASK_KIND_LAMBADA : TASK_KIND_MC;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return 0;
    return 1;
}

/* Parse every non-empty line into rows[] (NULL for blank lines); IG_EINVAL at the first non-object. */
static int parse_rows(struct reader *r, json_t **rows)
{
    for (int64_t k = 0; k < r->n_lines; k++) {
        if (is_blank(r->lines[k]))
            continue;
        json_error_t e;
        rows[k] = json_loads(r->lines[k], JSON_REJECT_DUPLICATES, &e);
        if (!rows[k])
            return bad(r, k + 1, NULL, "not JSON (%s, column %d)", e.text, e.column);
        if (!json_is_object(rows[k]))
            return bad(r, k + 1, NULL, "not a JSON object");
    }
    return 0;
}

static int load_jsonl(struct reader *r, enum task_kind kind)
{
    struct task_set *t = r->t;
    json_t **rows = ig_calloc((size_t)(r->n_lines > 0 ? r->n_lines : 1), sizeof *rows);
    if (!rows)
        return IG_ENOMEM;
    int rc = parse_rows(r, rows);
    int64_t first = 0;
    while (first < r->n_lines && !rows[first])
        first++;
    if (!rc && first == r->n_lines)
        rc = ig_error_set(IG_EINVAL, "task file %s: no items", r->path);
    if (!rc && !(t->schema = detect_schema(rows[first], kind)))
        rc = bad(r, first + 1, NULL,
                 "no known task schema (expected {query, choices, gold}, {context_options, continuation, gold}, "
                 "{goal, sol1, sol2}, {text, label} or {context, continuation})");
    json_t *verb = NULL;
    if (!rc) {
        t->kind = schema_kind(t->schema);
        if (t->kind == TASK_KIND_CLS && json_object_get(rows[first], "labels"))
            rc = load_cls_header(r, first + 1, rows[first], &verb), first++;
        else if (t->kind == TASK_KIND_CLS)
            rc = collect_cls_labels(r, rows, r->n_lines);
    }
    for (int64_t k = first; k < r->n_lines && !rc; k++) {
        if (!rows[k])
            continue;
        const char *s = t->schema;
        rc = strcmp(s, "query_choices") == 0 ? load_query_choices(r, k + 1, rows[k])
             : strcmp(s, "winogrande") == 0  ? load_winogrande(r, k + 1, rows[k])
             : strcmp(s, "piqa") == 0        ? load_piqa(r, k + 1, rows[k])
             : strcmp(s, "lambada") == 0     ? load_lambada(r, k + 1, rows[k])
                                             : load_cls_item(r, k + 1, rows[k], verb);
    }
    if (!rc && t->n_items == 0)
        rc = ig_error_set(IG_EINVAL, "task file %s: no items", r->path);
    for (int64_t k = 0; k < r->n_lines; k++)
        json_decref(rows[k]);
    free(rows);
    return rc;
}

/* ---- public ------------------------------------------------------------------------------------- */

static int parse_spec(const char *spec, enum task_kind *kind, const char **path)
{
    static const struct { const char *prefix; enum task_kind kind; } kinds[] = {
        {"hellaswag:", TASK_KIND_HELLASWAG}, {"mc:", TASK_KIND_MC},           {"cls:", TASK_KIND_CLS},
        {"lambada:", TASK_KIND_LAMBADA},     {"cloze:", TASK_KIND_CLOZE},
    };
    *kind = TASK_KIND_AUTO;
    *path = spec;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(spec, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
            *kind = kinds[i].kind;
            *path = spec + strlen(kinds[i].prefix);
        }
    if (**path == '\0')
        return ig_error_set(IG_EINVAL, "task '%s': no file named", spec);
    return 0;
}

static char *base_name(const char *path)
{
    const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *name = dup_str(b);
    if (name) {
        char *dot = strchr(name, '.');
        if (dot && dot != name)
            *dot = '\0';
    }
    return name;
}

int task_set_load(struct task_set **out, const char *spec)
{
    *out = NULL;
    enum task_kind kind;
    const char *path;
    int rc = parse_spec(spec, &kind, &path);
    if (rc)
        return rc;
    struct task_set *t = ig_calloc(1, sizeof *t);
    struct reader r = {.path = path, .t = t};
    if (!t || !(t->path = dup_str(path)) || !(t->name = base_name(path)))
        rc = IG_ENOMEM;
    if (!rc)
        rc = read_file(&r);
    if (!rc && kind == TASK_KIND_CLOZE)
        rc = build_cloze(&r);
    if (!rc)
        rc = split_lines(&r);
    if (!rc) {
        int64_t first = 0;
        while (first < r.n_lines && is_blank(r.lines[first]))
            first++;
        int json = first < r.n_lines && r.lines[first][0] == '{';
        if (kind == TASK_KIND_CLOZE) {
            rc = load_jsonl(&r, TASK_KIND_MC);
            t->kind = TASK_KIND_CLOZE;
        } else if (kind == TASK_KIND_HELLASWAG || (kind == TASK_KIND_AUTO && !json)) {
            t->kind = TASK_KIND_HELLASWAG;
            t->schema = "hellaswag";
            rc = load_hellaswag(&r);
        } else {
            rc = load_jsonl(&r, kind);
        }
    }
    free(r.data);
    free(r.lines);
    free(r.piqa_labels);
    if (rc) {
        task_set_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

void task_set_destroy(struct task_set *t)
{
    if (!t)
        return;
    for (int64_t i = 0; i < t->n_items; i++) {
        for (int32_t j = 0; t->items[i].options && j < t->items[i].n_options; j++) {
            free(t->items[i].options[j].context);
            free(t->items[i].options[j].continuation);
        }
        free(t->items[i].options);
    }
    for (int64_t i = 0; i < t->n_categories; i++)
        free(t->categories[i]);
    for (int32_t i = 0; i < t->n_labels; i++)
        free(t->labels[i]);
    free(t->items);
    free(t->categories);
    free(t->labels);
    free(t->path);
    free(t->name);
    free(t);
}

void task_set_select(struct task_set *t, int64_t limit)
{
    if (limit <= 0 || limit >= t->n_items)
        return;
    struct task_item *pool = t->items;   /* the remaining items occupy pool[0 .. remaining), in file order */
    struct task_item *chosen = ig_malloc((size_t)limit * sizeof *chosen);
    if (!chosen)
        return;   /* keeps every item; the caller's n_items says so */
    struct mt19937 g;
    mt19937_seed(&g, 1);
    int64_t remaining = t->n_items;
    for (int64_t k = 0; k < limit; k++) {
        int64_t idx = (int64_t)mt19937_uniform(&g, (uint64_t)remaining);
        chosen[k] = pool[idx];
        /* prompt_lines.erase(): the items after the drawn one move down a slot */
        memmove(pool + idx, pool + idx + 1, (size_t)(remaining - idx - 1) * sizeof *pool);
        remaining--;
    }
    for (int64_t k = 0; k < remaining; k++) {   /* the items not drawn */
        for (int32_t j = 0; j < pool[k].n_options; j++) {
            free(pool[k].options[j].context);
            free(pool[k].options[j].continuation);
        }
        free(pool[k].options);
    }
    memcpy(t->items, chosen, (size_t)limit * sizeof *chosen);
    free(chosen);
    t->n_items = limit;
}

const char *task_kind_name(enum task_kind k)
{
    switch (k) {
    case TASK_KIND_HELLASWAG: return "hellaswag";
    case TASK_KIND_MC: return "mc";
    case TASK_KIND_CLS: return "cls";
    case TASK_KIND_LAMBADA: return "lambada";
    case TASK_KIND_CLOZE: return "cloze";
    default: return "auto";
    }
}
