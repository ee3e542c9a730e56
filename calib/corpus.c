/* corpus.c — calibration text: loading, identity (xxh3-64), seeded windows. */
#include "calib.h"

#include "../common/ig_error.h"
#include "../formats/file_map.h"
#include "../formats/tokenize.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole text: one file, or the .txt files of a folder concatenated in name order. */
static char *read_text(const char *path, size_t *len, int *n_files)
{
    if (!file_is_folder(path)) {
        *n_files = 1;
        return file_read_all(path, (size_t)1 << 31, len);
    }
    DIR *d = opendir(path);
    if (!d) {
        ig_error_set(IG_EINVAL, "%s: cannot read the folder", path);
        return NULL;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t k = strlen(e->d_name);
        if (k > 4 && strcmp(e->d_name + k - 4, ".txt") == 0) {
            names = realloc(names, (size_t)(n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    char *text = NULL;
    size_t total = 0;
    if (n == 0)
        ig_error_set(IG_EINVAL, "%s: no .txt files in the calibration folder", path);
    qsort(names, (size_t)n, sizeof *names, compare_names);
    for (int i = 0; i < n; i++) {
        char *p = file_path_join(path, names[i]);
        size_t k = 0;
        char *part = p ? file_read_all(p, (size_t)1 << 31, &k) : NULL;
        free(p);
        if (!part) {
            free(text);
            text = NULL;
            break;
        }
        text = realloc(text, total + k + 1);
        memcpy(text + total, part, k);
        total += k;
        text[total] = '\0';
        free(part);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    *len = total;
    *n_files = n;
    return text;
}

int calib_corpus_load(struct calib_corpus *c, const char *path, const struct vocab *v)
{
    memset(c, 0, sizeof *c);
    size_t len = 0;
    char *text = read_text(path, &len, &c->n_files);
    if (!text)
        return IG_EINVAL;
    c->xxh3 = XXH3_64bits(text, len);
    c->n_bytes = len;
    struct tokenizer *tok = NULL;
    int rc = len ? tokenizer_create(&tok, v) : ig_error_set(IG_EINVAL, "%s: the calibration text is empty", path);
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
