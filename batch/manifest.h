/* manifest.h — `ingot batch`'s YAML manifest: models × methods × types, gates, envelope.
 *
 * The manifest (libyaml) is read into plain data: sources, calibration, evaluation, a
 * list of job entries (each a method × type matrix with overrides), the output folder and
 * file naming, gates (global and per job) and an envelope. Reading is strict: an unknown
 * key, a duplicate key, a scalar where a list belongs or a number out of range is an error
 * (IG_EINVAL) whose message names the file, line, column and key, so a typo cannot
 * silently drop a gate. Relative paths are resolved against the manifest's folder.
 *
 * The schema (README.md, "Batch manifests", has a complete example):
 *   version: 1                                  optional
 *   sources:     [{name, path}]                  1..BATCH_MAX_SOURCES
 *   calibration: {text, samples, seq-len, seed}  needed by gptq/awq/awq+gptq jobs
 *   evaluation:  {text, ctx, chunks, tasks, task-limit}   text required
 *   jobs: [{name, method (one or a list), types (one or a list), tensor-type [RE=T],
 *           output-type, embed-type, pure, imatrix, calibrate, damp, act-order,
 *           group-size, samples, seq-len, seed, gates [..]}]
 *   output:      {dir, name}                     name: "{source}-{type}-{method}.gguf"
 *   gates:       ["FIGURE OP NUMBER [unless not real]", ...]
 *   envelope:    [same form]
 */
#ifndef BATCH_MANIFEST_H
#define BATCH_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#define BATCH_MAX_SOURCES 16
#define BATCH_MAX_SPECS 64
#define BATCH_MAX_LIST 32
#define BATCH_MAX_GATES 32
#define BATCH_PATH_MAX 1024
#define BATCH_NAME_MAX 128

enum batch_gate_op { BATCH_OP_LE, BATCH_OP_LT, BATCH_OP_GE, BATCH_OP_GT };

/* One gate or envelope constraint: "figure op threshold [unless not real]". */
struct batch_gate {
    char figure[BATCH_NAME_MAX];   /* canonical name (bpw -> bits_per_weight, size_bytes -> bytes) */
    enum batch_gate_op op;
    double threshold;
    bool unless_not_real;          /* holds too when the figure's CI includes 0 (not a real change) */
    char text[256];                /* as written in the manifest */
};

/* Where a value stands in the manifest, for messages about it found later (a missing file). */
struct batch_where {
    int line, column;              /* 1-based; 0 when not from the manifest */
};

struct batch_source {
    char name[BATCH_NAME_MAX];
    char path[BATCH_PATH_MAX];     /* resolved against the manifest's folder */
    struct batch_where at;         /* of path */
};

/* One entry of `jobs:`: its methods × types, with the overrides that apply to each. */
struct batch_job_spec {
    char name[BATCH_NAME_MAX];     /* "" unless given; {job} in file names */
    int n_methods, n_types, n_tensor_types;
    char methods[BATCH_MAX_LIST][16];
    char types[BATCH_MAX_LIST][32];
    char tensor_types[BATCH_MAX_LIST][256];   /* RE=TYPE, passed as --tensor-type */
    char output_type[32], embed_type[32];     /* "" unless given */
    char imatrix[BATCH_PATH_MAX];             /* "" unless given */
    bool pure, act_order;
    bool calibrate;                           /* rtn: importance from the calibration section */
    double damp;                              /* < 0 unless given */
    int64_t group_size;                       /* 0 unless given: I4/I8 -> I4_G<n> */
    int64_t samples, seq_len, seed;           /* < 0: the calibration section's */
    int n_gates;
    struct batch_gate gates[BATCH_MAX_GATES];
    int line, column;                         /* where the entry starts (1-based) */
};

struct batch_manifest {
    char path[BATCH_PATH_MAX];
    char dir[BATCH_PATH_MAX];      /* the manifest's folder */
    int n_sources;
    struct batch_source sources[BATCH_MAX_SOURCES];
    char calib_text[BATCH_PATH_MAX];          /* "" when the section is absent */
    int64_t calib_samples, calib_seq_len, calib_seed;   /* defaults 128, 256, 0 */
    struct batch_where calib_at, eval_at;
    char eval_text[BATCH_PATH_MAX];
    int64_t eval_ctx, eval_chunks;            /* default 256; chunks 0 = all */
    int64_t eval_task_limit;                  /* 0: every item (verify --task-limit) */
    int n_tasks;
    char tasks[BATCH_MAX_LIST][BATCH_PATH_MAX];   /* [KIND:]PATH, verify --tasks */
    int n_specs;
    struct batch_job_spec specs[BATCH_MAX_SPECS];
    char output_dir[BATCH_PATH_MAX];
    char output_name[BATCH_PATH_MAX];
    int n_gates, n_envelope;
    struct batch_gate gates[BATCH_MAX_GATES];
    struct batch_gate envelope[BATCH_MAX_GATES];
};

/* Read and validate the manifest at path into *m (caller-owned; about 1 MB, so heap it).
 * Returns 0, IG_EINVAL with "path:line:column: key 'k': what was wrong (allowed: ...)",
 * or IG_EIO when the file cannot be read. */
int batch_manifest_read(struct batch_manifest *m, const char *path);

/* Check that every file the manifest names exists (sources, calibration and evaluation
 * texts, task files, imatrix files) before any work starts. Returns 0, or IG_EINVAL with
 * "FILE:LINE:COLUMN: key 'sources[].path': 'x': No such file or directory". */
int batch_manifest_check_files(const struct batch_manifest *m);

/* Parse one gate expression ("kld_mean <= 0.01", "delta_acc >= -1 unless not real").
 * Returns 0 or IG_EINVAL naming what is wrong (the figure names known, the operators). */
int batch_gate_parse(struct batch_gate *g, const char *text);

/* "<=", "<", ">=", ">". */
const char *batch_gate_op_name(enum batch_gate_op op);

/* True when value meets g (NaN never does). */
bool batch_gate_holds(const struct batch_gate *g, double value);

/* True for a figure verify reports per container (or a dotted path into it). */
bool batch_figure_known(const char *name);

/* True for a figure that needs evaluation.tasks (acc, delta_acc, ece, ...). */
bool batch_figure_needs_tasks(const char *name);

#endif /* BATCH_MANIFEST_H */
