/* verify_tasks.h — the task half of `ingot verify`: --tasks, scored for the source once and for
 * every container, compared item by item (verify/task_metrics.h, verify/paired.h,
 * verify/calibration.h), printed as a table and returned as JSON; optionally per-item records
 * (--items) and a Markdown summary (--md). cmd_verify.c parses the flags and calls this.
 */
#ifndef CONVERT_VERIFY_TASKS_H
#define CONVERT_VERIFY_TASKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VERIFY_MAX_TASKS 32

struct model;
struct vocab;

struct verify_tasks_opts {
    const char *tasks[VERIFY_MAX_TASKS];   /* KIND:PATH or PATH (--tasks, repeatable) */
    int n_tasks;
    int64_t task_limit;        /* --task-limit N: llama-perplexity's seeded choice of N items; 0: all */
    int64_t n_bootstrap;       /* --bootstrap N (default 1000; 0: no CI) */
    uint32_t seed;             /* --seed S (default 1): bootstrap and calibration halves */
    int64_t min_flips;         /* --min-flips N (default 10) */
    int64_t tier_head, tier_mid;   /* --tiers H,M (default 20,40 categories) */
    const char *items_path;    /* --items OUT.jsonl, or NULL */
    const char *md_path;       /* --md OUT.md, or NULL */
    bool quiet;
    FILE *human;               /* where the table goes */
};

/* Defaults for every field above except tasks and human. */
void verify_tasks_opts_default(struct verify_tasks_opts *o);

/* A model under test (borrowed). */
struct verify_tasks_model {
    const char *path;
    struct model *model;      /* resident or packed: task_score_model loads and releases its blocks */
};

/* Load every task, score the source once and each container, print the table, write
 * --items and --md, and set *tasks_json to {"<task name>": {...}} (caller owns). Each
 * container's figures per task are also put in container_json[i] (an object the caller owns)
 * under "tasks". Returns 0, IG_EINVAL (a bad task file: file, line and field named) or
 * IG_EIO / IG_ENOMEM. */
int verify_tasks_run(const struct verify_tasks_opts *o, const struct vocab *v, const struct verify_tasks_model *source,
                     const struct verify_tasks_model *containers, int n_containers, json_t **container_json,
                     json_t **tasks_json);

#ifdef __cplusplus
}
#endif

#endif /* CONVERT_VERIFY_TASKS_H */
