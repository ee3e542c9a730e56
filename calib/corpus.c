/* corpus.c — calibration text: loading, identity (xxh3-64), seeded windows. */
#include "calib.h"

#include "../common/ig_error.h"
#include "../formats/file_map.h"
#include "../formats/text_file.h"
#include "../tokenizer/tokenize.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append a copy of name (a file in folder) to names [*n]. Returns 0 or IG_ENOMEM. */
static int add_name(char ***names, int *n, const char *folder, const char *name)
{
    char **grown = ig_realloc(*names, (size_t)(*n + 1) * sizeof *grown);
    if (!grown)
        return ig_error_wrap(IG_ENOMEM, "%s: listing '%s'", folder, name);
    *names = grown;
    size_t k = strlen(name) + 1;
    char *copy = ig_malloc(k);
    if (!copy)
        return ig_error_wrap(IG_ENOMEM, "%s: listing '%s'", folder, name);
    memcpy(copy, name, k);
    grown[(*n)++] = copy;
    return 0;
}

/* The .txt files of folder `path`, concatenated in name order, into *text. */
static int read_folder(const char *path, char **text, size_t *len, int *n_files)
{
    DIR *d = opendir(path);
    if (!d)
        return ig_error_set(IG_EINVAL, "%s: cannot read the folder", path);
    char **names = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        size_t k = strlen(e->d_name);
        if (k > 4 && strcmp(e->d_name + k - 4, ".txt") == 0)
            rc = add_name(&names, &n, path, e->d_name);
    }
    closedir(d);
    size_t total = 0;
    *text = NULL;
    if (!rc && n == 0)
        rc = ig_error_set(IG_EINVAL, "%s: no .txt files in the calibration folder", path);
    if (!rc)
        qsort(names, (size_t)n, sizeof *names, compare_names);
    for (int i = 0; i < n && !rc; i++) {
        char *p = file_path_join(path, names[i]);
        size_t k = 0;
        char *part = p ? file_read_all(p, (size_t)1 << 31, &k) : NULL;
        if (part && (rc = text_check(p, part, k))) {   /* a binary file among the .txt */
            free(part);
            free(p);
            break;
        }
        free(p);
        char *grown = part ? ig_realloc(*text, total + k + 1) : NULL;
        if (!grown) {
            rc = part ? ig_error_wrap(IG_ENOMEM, "%s: %zu bytes of text", path, total + k + 1) : IG_EINVAL;
            free(part);
            break;
        }
        *text = grown;
        memcpy(*text + total, part, k);
        total += k;
        (*text)[total] = '\0';
        free(part);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc) {
        free(*text);
        *text = NULL;
    }
    *len = total;
    *n_files = n;
    return rc;
}

/* The whole text: one file, or the .txt files of a folder concatenated in name order. */
static int read_text(const char *path, char **text, size_t *len, int *n_files)
{
    if (file_is_folder(path))
        return read_folder(path, text, len, n_files);
    *n_files = 1;
    *text = file_read_all(path, (size_t)1 << 31, len);
    int rc = *text ? text_check(path, *text, *len) : IG_EINVAL;
    if (rc && *text) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

int calib_corpus_load(struct calib_corpus *c, const char *path, const struct vocab *v)
{
    memset(c, 0, sizeof *c);
    size_t len = 0;
    char *text = NULL;
    int rc = read_text(path, &text, &len, &c->n_files);
    if (rc)
        return rc;
    c->xxh3 = XXH3_64bits(text, len);
    c->n_bytes = len;
    struct tokenizer *tok = NULL;
    rc = len ? tokenizer_create(&tok, v) : ig_error_set(IG_EINVAL, "%s: the calibration text is empty", path);
    if (!rc) {
        int64_t n = tokenizer_encode(tok, text, len, 0, &c->tokens);
        if (n < 0)
            rc = ig_error_wrap((int)n, "%s", path);
        else
            c->n_tokens = n;
    }
    tokenizer_destroy(tok);
    free(text);
    return rc;
}

void calib_corpus_free(struct calib_corpus *c)
{
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int calib_corpus_sample(const struct calib_corpus *c, int64_t n_samples, int64_t seq_len, uint64_t seed,
                        int32_t bos, int32_t *samples)
{
    if (c->n_tokens < seq_len + 1)
        return ig_error_set(IG_EINVAL, "calibration text has %lld tokens, fewer than one window of %lld",
                            (long long)c->n_tokens, (long long)seq_len);
    uint64_t state = seed;
    uint64_t span = (uint64_t)(c->n_tokens - seq_len);
    for (int64_t s = 0; s < n_samples; s++) {
        int64_t start = (int64_t)(splitmix64(&state) % span);
        memcpy(samples + s * seq_len, c->tokens + start, (size_t)seq_len * sizeof(int32_t));
        if (bos >= 0)
            samples[s * seq_len] = bos;
    }
    return 0;
}
