/* plan.c — expand a manifest into jobs: resolved `ingot convert` arguments, fingerprints
 * (xxh3-64 of a canonical text, plan.h), cost estimates and a cost-balanced shard split.
 */
#include "plan.h"

#include "../common/ig_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- hashing files -------------------------------------------------------------------------- */

void batch_hex64(uint64_t h, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static int hash_file(XXH3_state_t *st, const char *path, uint64_t *bytes)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ig_error_set(IG_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat s;
    int rc = 0;
    if (fstat(fd, &s) != 0) {
        rc = ig_error_set(IG_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto out_close;
    }
    uint64_t size = (uint64_t)s.st_size;
    XXH3_64bits_update(st, &size, sizeof size);
    if (size > 0) {
        void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rc = ig_error_set(IG_EIO, "%s: cannot map: %s", path, strerror(errno));
            goto out_close;
        }
        XXH3_64bits_update(st, p, (size_t)size);
        munmap(p, (size_t)size);
    }
    *bytes += size;
out_close:
    close(fd);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of a folder (not recursive), names sorted. */
static int hash_folder(XXH3_state_t *st, const char *path, uint64_t *bytes)
{
    DIR *d = opendir(path);
    if (!d)
        return ig_error_set(IG_EIO, "%s: cannot read the folder: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char full[BATCH_PATH_MAX * 2];
        struct stat s;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        if (e->d_name[0] == '.' || stat(full, &s) != 0 || !S_ISREG(s.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = ig_error_set(IG_ENOMEM, "%s: out of memory listing the folder", path);
                goto out_free;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = ig_error_set(IG_ENOMEM, "%s: out of memory listing the folder", path);
            goto out_free;
        }
        n++;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        char full[BATCH_PATH_MAX * 2];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        XXH3_64bits_update(st, names[i], strlen(names[i]) + 1);
        rc = hash_file(st, full, bytes);
    }
out_free:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int batch_hash_path(const char *path, uint64_t *hash, uint64_t *bytes)
{
    struct stat s;
    *bytes = 0;
    if (stat(path, &s) != 0)
        return ig_error_set(errno == ENOENT ? IG_EINVAL : IG_EIO, "%s: %s", path, strerror(errno));
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return ig_error_set(IG_ENOMEM, "%s: cannot allocate a hash state", path);
    XXH3_64bits_reset(st);
    int rc = S_ISDIR(s.st_mode) ? hash_folder(st, path, bytes) : hash_file(st, path, bytes);
    *hash = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return rc;
}

/* ---- one job -------------------------------------------------------------------------------- */

static void add_arg(struct batch_job *j, const char *a, const char *b)
{
    snprintf(j->args[j->n_args++], BATCH_PATH_MAX, "%s", a);
    if (b)
        snprintf(j->args[j->n_args++], BATCH_PATH_MAX, "%s", b);
}

/* "{source}-{type}-{method}.gguf" with the job's words ("awq+gptq" stays as it is). */
static void expand_name(char *out, const char *pattern, const char *source, const char *type, const char *method,
                        const char *job)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < BATCH_PATH_MAX;) {
        const char *word = NULL;
        size_t skip = 1;
        if (strncmp(p, "{source}", 8) == 0)
            word = source, skip = 8;
        else if (strncmp(p, "{type}", 6) == 0)
            word = type, skip = 6;
        else if (strncmp(p, "{method}", 8) == 0)
            word = method, skip = 8;
        else if (strncmp(p, "{job}", 5) == 0)
            word = job, skip = 5;
        if (word)
            o += (size_t)snprintf(out + o, BATCH_PATH_MAX - o, "%s", word);
        else
            out[o++] = *p;
        p += skip;
    }
    out[o < BATCH_PATH_MAX ? o : BATCH_PATH_MAX - 1] = '\0';
}

/* Resolve one job's convert arguments and its cost estimate. */
static void job_resolve(struct batch_job *j, const struct batch_manifest *m, const struct batch_job_spec *s,
                        uint64_t source_bytes)
{
    bool calibrated = strcmp(j->method, "rtn") != 0 || s->calibrate;
    char num[64];
    add_arg(j, "--type", j->type);
    add_arg(j, "--method", j->method);
    for (int i = 0; i < s->n_tensor_types; i++)
        add_arg(j, "--tensor-type", s->tensor_types[i]);
    if (s->output_type[0])
        add_arg(j, "--output-type", s->output_type);
    if (s->embed_type[0])
        add_arg(j, "--embed-type", s->embed_type);
    if (s->pure)
        add_arg(j, "--pure", NULL);
    if (s->imatrix[0])
        add_arg(j, "--imatrix", s->imatrix);
    int64_t samples = s->samples >= 0 ? s->samples : m->calib_samples;
    int64_t seq_len = s->seq_len >= 0 ? s->seq_len : m->calib_seq_len;
    if (calibrated) {
        add_arg(j, "--calib", m->calib_text);
        snprintf(num, sizeof num, "%lld", (long long)samples);
        add_arg(j, "--samples", num);
        snprintf(num, sizeof num, "%lld", (long long)seq_len);
        add_arg(j, "--seq-len", num);
        snprintf(num, sizeof num, "%lld", (long long)(s->seed >= 0 ? s->seed : m->calib_seed));
        add_arg(j, "--seed", num);
        if (s->damp >= 0 && strcmp(j->method, "rtn") != 0) {
            snprintf(num, sizeof num, "%.15g", s->damp);
            add_arg(j, "--damp", num);
        }
        if (s->act_order && strcmp(j->method, "rtn") != 0)
            add_arg(j, "--act-order", NULL);
    }
    /* cost: a pass over the source for rounding; calibration runs the model over every
     * window once per group of linears (about 4 per block), ~30x rounding at 128 x 256 */
    /* rtn with calibration: the per-layer report's 5 block passes per window (the shared
     * imatrix's one pass is not the job's) */
    double factor = strcmp(j->method, "rtn") == 0 ? (calibrated ? 5.0 : 1.0)
                  : strcmp(j->method, "awq+gptq") == 0 ? 50.0
                  : strcmp(j->method, "gptq") == 0 ? 30.0 : 20.0;
    if (calibrated)
        factor *= (double)samples * (double)seq_len / (128.0 * 256.0);
    j->cost = (double)(source_bytes ? source_bytes : 1) * factor;
}

static uint64_t job_fingerprint(const struct batch_job *j, const struct batch_plan *p, const char *version,
                                uint64_t imatrix_hash)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return 0;
    char head[256];
    bool calibrated = strcmp(j->method, "rtn") != 0 || j->shared >= 0;
    snprintf(head, sizeof head, "ingot-batch-fingerprint 1\nversion %s\nsource %016llx\ncalib %016llx\nimatrix %016llx\n",
             version, (unsigned long long)p->source_hash[j->source],
             (unsigned long long)(calibrated ? p->calib_hash : 0), (unsigned long long)imatrix_hash);
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, head, strlen(head));
    if (j->shared >= 0) {   /* only then: the fingerprints of jobs without a shared step stay as they were */
        snprintf(head, sizeof head, "shared %s\n", p->shared[j->shared].fingerprint_hex);
        XXH3_64bits_update(st, head, strlen(head));
    }
    /* a file's path is left out (its bytes' hash is above), so the same job planned from
     * another working folder or machine keeps its fingerprint */
    for (int i = 0; i < j->n_args; i++) {
        bool is_path = i > 0 && (strcmp(j->args[i - 1], "--calib") == 0 || strcmp(j->args[i - 1], "--imatrix") == 0);
        XXH3_64bits_update(st, is_path ? "(file)" : j->args[i], strlen(is_path ? "(file)" : j->args[i]) + 1);
    }
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* ---- shared steps --------------------------------------------------------------------------- */

/* The shared importance-matrix step of job j (an rtn job with calibrate: true): found among
 * those planned, or added. Its fingerprint covers everything `ingot imatrix --samples` reads. */
static int shared_for(struct batch_plan *p, const struct batch_manifest *m, const struct batch_job_spec *s,
                      const struct batch_job *j, const char *version)
{
    int64_t samples = s->samples >= 0 ? s->samples : m->calib_samples;
    int64_t seq_len = s->seq_len >= 0 ? s->seq_len : m->calib_seq_len;
    int64_t seed = s->seed >= 0 ? s->seed : m->calib_seed;
    for (int i = 0; i < p->n_shared; i++) {
        struct batch_shared *x = &p->shared[i];
        if (x->source == j->source && x->samples == samples && x->seq_len == seq_len && x->seed == seed) {
            x->n_jobs++;
            return i;
        }
    }
    struct batch_shared *x = &p->shared[p->n_shared];
    char text[512];
    snprintf(text, sizeof text,
             "ingot-batch-shared 1\nstep imatrix\nversion %s\nsource %016llx\ncalib %016llx\nsamples %lld\n"
             "seq-len %lld\nseed %lld\n",
             version, (unsigned long long)p->source_hash[j->source], (unsigned long long)p->calib_hash,
             (long long)samples, (long long)seq_len, (long long)seed);
    *x = (struct batch_shared){j->source, samples, seq_len, seed, XXH3_64bits(text, strlen(text)), "", "", 1};
    batch_hex64(x->fingerprint, x->fingerprint_hex);
    snprintf(x->file, sizeof x->file, "imatrix-%.200s-%s.gguf", m->sources[j->source].name, x->fingerprint_hex);
    return p->n_shared++;
}

/* ---- shards --------------------------------------------------------------------------------- */

static const struct batch_job *cmp_base;
static int cmp_cost(const void *a, const void *b)
{
    const struct batch_job *x = &cmp_base[*(const int *)a], *y = &cmp_base[*(const int *)b];
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return x->index - y->index;
}

/* Longest-processing-time-first: the greedy 4/3-approximation of the balanced split. */
static int assign_shards(struct batch_plan *p, int n_shards)
{
    int *order = malloc((size_t)p->n_jobs * sizeof *order);
    double *load = calloc((size_t)n_shards, sizeof *load);
    if (!order || !load) {
        free(order);
        free(load);
        return ig_error_set(IG_ENOMEM, "batch: out of memory splitting %d jobs into %d shards", p->n_jobs, n_shards);
    }
    for (int i = 0; i < p->n_jobs; i++)
        order[i] = i;
    cmp_base = p->jobs;
    qsort(order, (size_t)p->n_jobs, sizeof *order, cmp_cost);
    for (int i = 0; i < p->n_jobs; i++) {
        int best = 0;
        for (int s = 1; s < n_shards; s++)
            if (load[s] < load[best])
                best = s;
        p->jobs[order[i]].shard = best;
        load[best] += p->jobs[order[i]].cost;
    }
    p->n_shards = n_shards;
    free(order);
    free(load);
    return 0;
}

int batch_shard_parse(const char *text, int *index, int *count)
{
    char *end;
    long i = strtol(text, &end, 10);
    if (end == text || *end != '/')
        return ig_error_set(IG_EINVAL, "--shard '%s': expected I/N (0 <= I < N), e.g. 0/4", text);
    const char *n_text = end + 1;
    long n = strtol(n_text, &end, 10);
    if (end == n_text || *end || n < 1 || n > 100000 || i < 0 || i >= n)
        return ig_error_set(IG_EINVAL, "--shard '%s': expected I/N with 0 <= I < N <= 100000", text);
    *index = (int)i;
    *count = (int)n;
    return 0;
}

/* ---- the plan ------------------------------------------------------------------------------- */

static int plan_hash_inputs(struct batch_plan *p, const struct batch_manifest *m)
{
    for (int i = 0; i < m->n_sources; i++) {
        int rc = batch_hash_path(m->sources[i].path, &p->source_hash[i], &p->source_bytes[i]);
        if (rc)
            return ig_error_wrap(rc, "source '%s'", m->sources[i].name);
    }
    if (m->calib_text[0]) {
        uint64_t bytes;
        int rc = batch_hash_path(m->calib_text, &p->calib_hash, &bytes);
        if (rc)
            return ig_error_wrap(rc, "calibration.text");
    }
    batch_hex64(p->calib_hash, p->calib_hash_hex);
    return 0;
}

int batch_plan_create(struct batch_plan *p, const struct batch_manifest *m, const char *version, int n_shards)
{
    memset(p, 0, sizeof *p);
    int rc = plan_hash_inputs(p, m), n = 0;
    if (rc)
        return rc;
    for (int s = 0; s < m->n_specs; s++)
        n += m->specs[s].n_methods * m->specs[s].n_types;
    n *= m->n_sources;
    p->jobs = calloc((size_t)n, sizeof *p->jobs);
    p->shared = calloc((size_t)(n ? n : 1), sizeof *p->shared);   /* at most one per job */
    if (!p->jobs || !p->shared)
        return ig_error_set(IG_ENOMEM, "batch: out of memory planning %d jobs", n);
    for (int src = 0; src < m->n_sources; src++)
        for (int s = 0; s < m->n_specs; s++) {
            const struct batch_job_spec *spec = &m->specs[s];
            uint64_t imatrix_hash = 0, bytes;
            if (spec->imatrix[0] && (rc = batch_hash_path(spec->imatrix, &imatrix_hash, &bytes)))
                return ig_error_wrap(rc, "jobs entry at line %d: imatrix", spec->line);
            for (int a = 0; a < spec->n_methods; a++)
                for (int t = 0; t < spec->n_types; t++) {
                    struct batch_job *j = &p->jobs[p->n_jobs];
                    j->index = p->n_jobs;
                    j->source = src;
                    j->spec = s;
                    snprintf(j->method, sizeof j->method, "%s", spec->methods[a]);
                    if (spec->group_size)
                        snprintf(j->type, sizeof j->type, "%.20s_G%lld", spec->types[t], (long long)spec->group_size);
                    else
                        snprintf(j->type, sizeof j->type, "%s", spec->types[t]);
                    expand_name(j->file, m->output_name, m->sources[src].name, j->type, j->method,
                                spec->name[0] ? spec->name : j->method);
                    snprintf(j->output, sizeof j->output, "%.511s/%.511s", m->output_dir, j->file);
                    for (int k = 0; k < p->n_jobs; k++)
                        if (strcmp(p->jobs[k].file, j->file) == 0)
                            return ig_error_set(IG_EINVAL,
                                                "%s: key 'output.name': jobs %d and %d would both write '%s' (add "
                                                "{method}, {job} or a jobs[].name to the pattern)",
                                                m->path, k + 1, j->index + 1, j->file);
                    job_resolve(j, m, spec, p->source_bytes[src]);
                    j->shared = strcmp(j->method, "rtn") == 0 && spec->calibrate ? shared_for(p, m, spec, j, version) : -1;
                    j->fingerprint = job_fingerprint(j, p, version, imatrix_hash);
                    batch_hex64(j->fingerprint, j->fingerprint_hex);
                    p->n_jobs++;
                }
        }
    return assign_shards(p, n_shards < 1 ? 1 : n_shards);
}

void batch_plan_destroy(struct batch_plan *p)
{
    if (!p)
        return;
    free(p->jobs);
    free(p->shared);
    p->jobs = NULL;
    p->shared = NULL;
    p->n_shared = 0;
    p->n_jobs = 0;
}
