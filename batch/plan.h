/* plan.h — a manifest expanded into jobs, each with its resolved parameters, fingerprint,
 * cost and shard.
 *
 * Jobs come in a fixed order (source, then jobs: entry, then method, then type), so every
 * machine that reads the same manifest plans the same list. A job's fingerprint is the
 * xxh3-64 of a canonical text: ingot's version, the xxh3-64 of every file of its source
 * (tensor data, config and tokenizer: the source tensors' bytes and everything else convert
 * reads), the calibration corpus's and imatrix's xxh3-64 when used, and every resolved
 * `ingot convert` argument. Changing one job's parameters changes that job's fingerprint
 * alone. Shards are cost-balanced: jobs sorted by estimated cost (descending, ties by plan
 * order) go one by one to the least-loaded shard (lowest index on ties), which every shard
 * computes the same way.
 *
 * Shared steps: work whose result does not depend on a job's type is planned once and handed
 * to every job that needs it. Today that is the importance matrix of rtn jobs with
 * `calibrate: true`: `ingot convert --method rtn --calib` computes it from the unquantized
 * model's activations over the seeded windows, so one `ingot imatrix --samples` per (source,
 * calibration text, samples, seq-len, seed) serves every type, and each job gets it with
 * `--calib-imatrix`. Its fingerprint (ingot's version, the source's and the text's xxh3-64,
 * the window settings) is in each dependent job's fingerprint. GPTQ and AWQ share nothing of
 * the kind: calib/driver.c captures each group's input on the model quantized so far (to the
 * job's type), so their statistics depend on the type.
 */
#ifndef BATCH_PLAN_H
#define BATCH_PLAN_H

#include "manifest.h"

#include <stdint.h>

#define BATCH_MAX_ARGS 96

struct batch_job {
    int index;                       /* plan order */
    int source, spec;                /* into manifest sources[], specs[] */
    char method[16];
    char type[32];                   /* resolved: I4 with group-size 128 -> I4_G128 */
    char file[BATCH_PATH_MAX];       /* output file name (the job's id; unique) */
    char output[BATCH_PATH_MAX];     /* output_dir/file */
    int n_args;
    char args[BATCH_MAX_ARGS][BATCH_PATH_MAX];   /* `ingot convert` arguments after SRC -o OUT */
    uint64_t fingerprint;
    char fingerprint_hex[17];
    double cost;                     /* relative estimate (source bytes x method x windows) */
    int shard;                       /* 0..n_shards-1 */
    int shared;                      /* into plan shared[]: the step whose result it takes, or -1 */
};

/* A step run once for the jobs that share its result (see above). */
struct batch_shared {
    int source;                      /* into manifest sources[] */
    int64_t samples, seq_len, seed;  /* the calibration windows */
    uint64_t fingerprint;
    char fingerprint_hex[17];
    char file[BATCH_PATH_MAX];       /* its result's name in the work folder: imatrix-<source>-<fp>.gguf */
    int n_jobs;                      /* jobs of the whole plan (every shard) that take it */
};

struct batch_plan {
    int n_jobs;
    struct batch_job *jobs;          /* [n_jobs], owned */
    uint64_t source_hash[BATCH_MAX_SOURCES];
    uint64_t source_bytes[BATCH_MAX_SOURCES];
    uint64_t calib_hash;             /* 0 when no calibration section */
    char calib_hash_hex[17];
    int n_shards;
    int n_shared;
    struct batch_shared *shared;     /* [n_shared], owned */
};

/* Expand m into *plan (heap-owned; batch_plan_destroy frees), hashing each source and the
 * calibration text once, and assign shards for n_shards (>= 1). version is ingot's.
 * Returns 0, IG_EINVAL (two jobs would write the same file; a source that is missing),
 * IG_EIO or IG_ENOMEM. */
int batch_plan_create(struct batch_plan *plan, const struct batch_manifest *m, const char *version, int n_shards);

void batch_plan_destroy(struct batch_plan *plan);

/* xxh3-64 of the file at path, or of every regular file in the folder at path (names
 * sorted, each name and its bytes hashed in turn). *bytes gets the total size. Returns 0,
 * IG_EINVAL (missing) or IG_EIO. */
int batch_hash_path(const char *path, uint64_t *hash, uint64_t *bytes);

/* "%016llx" of h into out[17]. */
void batch_hex64(uint64_t h, char out[17]);

/* Parse a shard "I/N" (1 <= N, 0 <= I < N). Returns 0 or IG_EINVAL. */
int batch_shard_parse(const char *text, int *index, int *count);

#endif /* BATCH_PLAN_H */
