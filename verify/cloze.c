/* cloze.c — the deterministic last-word cloze builder (cloze.h). Text in, JSON lines out;
 * task_files.c reads the result like any multiple-choice file.
 */
#include "cloze.h"

#include "mt19937.h"

#include "../common/ig_error.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One candidate: query = text[q0 .. q1), answer = text[a0 .. a1). */
struct candidate {
    size_t q0, q1, a0, a1;
};

/* ---- scanning -------------------------------------------------------------------------------- */

static int is_end(char c)
{
    return c == '.' || c == '!' || c == '?';
}

/* The start of the sentence containing position p: after the last end mark and space before
 * p, or the paragraph start floor_pos; leading spaces skipped. */
static size_t sentence_start(const char *t, size_t p, size_t floor_pos)
{
    size_t s = p;
    while (s > floor_pos && !(t[s - 1] == '\n') && !(s >= 2 && is_end(t[s - 2]) && t[s - 1] == ' '))
        s--;
    while (s < p && t[s] == ' ')
        s++;
    return s;
}

/* Candidate ending at the end mark t[e], or 0. */
static int candidate_at(const char *t, size_t e, const struct cloze_opts *o, struct candidate *c)
{
    size_t a1 = e, a0 = e;
    while (a0 > 0 && isalpha((unsigned char)t[a0 - 1]))
        a0--;
    if (a1 - a0 < 3 || a1 - a0 > 24 || a0 == 0 || t[a0 - 1] != ' ')
        return 0;
    size_t para = e;   /* paragraph start: after the last newline */
    while (para > 0 && t[para - 1] != '\n')
        para--;
    size_t s = sentence_start(t, a0, para);
    int words = 1;
    for (size_t k = s; k < a0; k++)
        words += t[k] == ' ' && k + 1 < a0 && t[k + 1] != ' ';
    if (words < CLOZE_MIN_WORDS || a0 - 1 - s > (size_t)o->max_context_bytes)
        return 0;
    /* grow the query back one sentence at a time while it fits */
    while (s >= para + 2 && t[s - 1] == ' ' && is_end(t[s - 2])) {
        size_t prev = sentence_start(t, s - 2, para);
        if (a0 - 1 - prev > (size_t)o->max_context_bytes)
            break;
        s = prev;
    }
    *c = (struct candidate){.q0 = s, .q1 = a0 - 1, .a0 = a0, .a1 = a1};
    return 1;
}

static int collect(const char *t, size_t n, const struct cloze_opts *o, struct candidate **out, int64_t *n_out)
{
    int64_t cap = 256, k = 0;
    struct candidate *c = ig_malloc((size_t)cap * sizeof *c);
    if (!c)
        return IG_ENOMEM;
    for (size_t e = 1; e < n; e++) {
        if (!is_end(t[e]) || !(e + 1 == n || t[e + 1] == ' ' || t[e + 1] == '\n' || t[e + 1] == '"'))
            continue;
        if (k == cap) {
            struct candidate *g = ig_realloc(c, (size_t)(cap *= 2) * sizeof *c);
            if (!g) {
                free(c);
                return IG_ENOMEM;
            }
            c = g;
        }
        k += candidate_at(t, e, o, &c[k]);
    }
    *out = c;
    *n_out = k;
    return 0;
}

/* ---- choices ---------------------------------------------------------------------------------- */

static int same_word(const char *t, const struct candidate *x, const struct candidate *y)
{
    return x->a1 - x->a0 == y->a1 - y->a0 && strncasecmp(t + x->a0, t + y->a0, x->a1 - x->a0) == 0;
}

static int count_distinct(const char *t, const struct candidate *c, int64_t n, int32_t enough)
{
    int32_t d = 0;
    for (int64_t i = 0; i < n && d < enough; i++) {
        int seen = 0;
        for (int64_t j = 0; j < i && !seen; j++)
            seen = same_word(t, &c[i], &c[j]);
        d += !seen;
    }
    return d;
}

static json_t *item_json(const char *t, const struct candidate *c, int64_t n_c, int64_t i, const struct cloze_opts *o,
                         struct mt19937 *g)
{
    const struct candidate *ans = &c[i];
    const struct candidate *pick[64];
    int32_t k = 0;
    while (k < o->n_choices - 1) {
        const struct candidate *d = &c[mt19937_uniform(g, (uint64_t)n_c)];
        int clash = same_word(t, d, ans);
        for (int32_t j = 0; j < k && !clash; j++)
            clash = same_word(t, d, pick[j]);
        if (!clash)
            pick[k++] = d;
    }
    int32_t gold = (int32_t)mt19937_uniform(g, (uint64_t)o->n_choices);
    json_t *choices = json_array();
    for (int32_t j = 0, d = 0; j < o->n_choices; j++) {
        const struct candidate *w = j == gold ? ans : pick[d++];
        json_array_append_new(choices, json_stringn(t + w->a0, w->a1 - w->a0));
    }
    char cat[32];
    size_t len = ans->a1 - ans->a0;
    for (size_t j = 0; j < len; j++)
        cat[j] = (char)tolower((unsigned char)t[ans->a0 + j]);
    return json_pack("{s:s%, s:o, s:i, s:s%}", "query", t + ans->q0, ans->q1 - ans->q0, "choices", choices, "gold",
                     (int)gold, "category", cat, len);
}

/* ---- public ------------------------------------------------------------------------------------ */

int cloze_build(const char *text, size_t n, const struct cloze_opts *o, char **jsonl, int64_t *n_items)
{
    *jsonl = NULL;
    *n_items = 0;
    if (o->n_choices < 2 || o->n_choices > 64)
        return ig_error_set(IG_EINVAL, "cloze_build: %d choices (allowed 2..64)", (int)o->n_choices);
    struct candidate *c;
    int64_t n_c;
    int rc = collect(text, n, o, &c, &n_c);
    if (rc)
        return rc;
    if (count_distinct(text, c, n_c, o->n_choices) < o->n_choices) {
        free(c);
        return ig_error_set(IG_EINVAL, "cloze_build: the text has %lld cloze sentences with fewer than %d distinct answers",
                            (long long)n_c, (int)o->n_choices);
    }
    struct mt19937 g;
    mt19937_seed(&g, o->seed);
    int64_t *idx = ig_malloc((size_t)n_c * sizeof *idx);
    uint8_t *keep = ig_calloc((size_t)n_c, 1);
    size_t cap = 4096, len = 0;
    char *out = ig_malloc(cap);
    rc = idx && keep && out ? 0 : IG_ENOMEM;
    for (int64_t i = 0; i < n_c && !rc; i++)
        idx[i] = i;
    for (int64_t i = n_c - 1; i >= 1 && !rc && n_c > o->max_items; i--) {
        int64_t j = (int64_t)mt19937_uniform(&g, (uint64_t)i + 1), s = idx[i];
        idx[i] = idx[j], idx[j] = s;
    }
    for (int64_t i = 0; i < n_c && i < o->max_items && !rc; i++)
        keep[idx[i]] = 1;
    for (int64_t i = 0; i < n_c && !rc; i++) {
        if (!keep[i])
            continue;
        json_t *j = item_json(text, c, n_c, i, o, &g);
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(j);
        size_t ll = line ? strlen(line) : 0;
        if (line && len + ll + 2 > cap) {
            char *grown = ig_realloc(out, cap = 2 * (len + ll + 2));
            out = grown ? grown : out;
            rc = grown ? 0 : IG_ENOMEM;
        }
        if (!line)
            rc = ig_error_set(IG_ENOMEM, "cloze_build: JSON encoding failed");
        if (!rc) {
            memcpy(out + len, line, ll);
            out[len + ll] = '\n';
            len += ll + 1;
            out[len] = '\0';
            (*n_items)++;
        }
        free(line);
    }
    free(c);
    free(idx);
    free(keep);
    if (rc) {
        free(out);
        *n_items = 0;
        return rc;
    }
    *jsonl = out;
    return 0;
}
