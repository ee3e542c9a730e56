/* cmd_batch.c — `ingot batch`: a YAML manifest of models × methods × types as one
 * resumable, shardable step with quality gates and a report.
 *
 * Flow: read the manifest (batch/manifest.c) → plan the jobs, fingerprint them and pick this
 * shard's share (batch/plan.c) → for each job, reuse its output when the state file records
 * the same fingerprint and `ingot check` passes → the shared steps the remaining jobs need,
 * once each (the importance matrix of a source's calibrated rtn jobs: one `ingot imatrix
 * --samples` child, its file kept in the work folder under its own fingerprint) → each job
 * as an `ingot convert` child process (--jobs at a time; each child dies with the batch; a
 * job with a shared step gets its file as --calib-imatrix) → one `ingot verify` per model over all
 * of its containers that lack figures, so the source's logits are computed once per model →
 * gates, envelope and Pareto frontier (batch/gates.c) → report.json, report.md, report.html
 * (report/), or a fragment per shard that `ingot batch --merge` joins.
 * Children are this same binary (/proc/self/exe) with --json-out, so a crash or a kill -9 of
 * one job cannot damage another, and their JSON is read back with jansson.
 */
#include "cli.h"

#include "../batch/gates.h"
#include "../batch/manifest.h"
#include "../batch/plan.h"
#include "../batch/state.h"
#include "../common/ig_error.h"
#include "../report/report.h"
#include "plan.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORK_DIR ".ingot-batch"   /* logs, convert and verify JSON, events, inside output.dir */
#define MAX_PARALLEL 64
#define PATH_BUF 4096   /* work folder + job file + extension */

static const char batch_usage[] =
    "usage: ingot batch MANIFEST.yaml [--jobs N] [--shard I/N | --shards N] [--json] [--json-out FILE] [-q]\n"
    "       ingot batch --merge DIR... [-o DIR] [--json] [--json-out FILE]\n"
    "\n"
    "Runs every job of the manifest (sources x methods x types; README.md, 'Batch manifests'):\n"
    "converts each (at most --jobs at a time), verifies each model's containers in one pass against\n"
    "its source, applies the gates and writes report.json, report.md and report.html to output.dir.\n"
    "A rerun skips each job whose output passes 'ingot check' and whose fingerprint (source and\n"
    "calibration checksums, every parameter, ingot's version) the state file records.\n"
    "Work that does not depend on a job's type is done once: the importance matrix of rtn jobs with\n"
    "'calibrate: true' (one 'ingot imatrix' per source and window setting, kept in the work folder).\n"
    "  --jobs N        conversions at once (default 1); each gets cores/N threads\n"
    "  --shard I/N     run shard I of N (0-based; a deterministic, cost-balanced share); default\n"
    "                  from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX\n"
    "                  with --shards N (Kubernetes Indexed Jobs). A shard writes report.shard-I-of-N.json\n"
    "  --merge DIR...  join the shard reports found in each DIR, apply the gates to the union and\n"
    "                  write report.json/.md/.html to -o DIR (default: the first DIR)\n"
    "  --resume        skip up-to-date jobs (the default); --fresh converts every job again\n"
    "  --dry-run       print the plan (shared steps; per job: shard, fingerprint, estimated cost,\n"
    "                  file, arguments) and stop\n"
    "  --json          JSON lines (one event per line) on stdout\n"
    "  --json-out F    write report.json's document to F as well\n"
    "  -q, --quiet     no progress output\n"
    "\n"
    "Exit codes: 0 every gate holds; 1 a gate failed (stderr names the job, the figure, its value\n"
    "and the bound); 2 bad manifest or input (file:line:column and key); 3 I/O.\n";

struct opts {
    const char *manifest;
    int jobs;
    int shard, n_shards;
    bool json, quiet;
    const char *json_out;
    const char *merge_out;
    bool merge;
    bool dry_run;
    bool fresh;    /* ignore the state: convert every job again */
};

/* ---- events: JSON lines, plain lines, or a live display ------------------------------------ */

struct running {
    pid_t pid;
    int job;          /* plan index */
    double t_start;
};

struct ui {
    bool json, quiet, tty;
    int n_total, n_done, n_drawn;
    double t_last;
};

static void ui_event(struct ui *u, json_t *ev, const char *plain_fmt, ...) __attribute__((format(printf, 3, 4)));

/* One event: a JSON line on stdout (--json), a plain line on stderr otherwise. */
static void ui_event(struct ui *u, json_t *ev, const char *plain_fmt, ...)
{
    if (u->json) {
        char *t = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (t)
            printf("%s\n", t);
        fflush(stdout);
        free(t);
    }
    json_decref(ev);
    if (u->quiet || !plain_fmt)
        return;
    if (u->tty && u->n_drawn) {   /* clear the live block before printing above it */
        fprintf(stderr, "\033[%dA\033[J", u->n_drawn);
        u->n_drawn = 0;
    }
    va_list ap;
    va_start(ap, plain_fmt);
    fputs("batch: ", stderr);
    vfprintf(stderr, plain_fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The last line a child wrote to its log (its own progress line), at most size - 1 bytes. */
static void log_last_line(const char *path, char *out, size_t size)
{
    char buf[1024];
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long end = ftell(f), start = end > (long)sizeof buf - 1 ? end - (long)sizeof buf + 1 : 0;
    fseek(f, start, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    const char *line = strrchr(buf, '\n');
    snprintf(out, size, "%.200s", line ? line + 1 : buf);
}

/* On a terminal: a line per running job with its stage (the child's last progress line) and
 * time, then the overall bar. */
static void ui_draw(struct ui *u, const struct batch_plan *p, const char *work, const struct running *run, int n_run)
{
    if (!u->tty || u->quiet || cli_now() - u->t_last < 0.25)
        return;
    u->t_last = cli_now();
    if (u->n_drawn)
        fprintf(stderr, "\033[%dA\033[J", u->n_drawn);
    for (int i = 0; i < n_run; i++) {
        char log[PATH_BUF], stage[256];
        snprintf(log, sizeof log, "%.2000s/%.1900s.convert.log", work, p->jobs[run[i].job].file);
        log_last_line(log, stage, sizeof stage);
        fprintf(stderr, "  %-32s %6.1fs  %.60s\n", p->jobs[run[i].job].file, cli_now() - run[i].t_start,
                stage[0] ? stage : "starting");
    }
    int width = 30, filled = u->n_total ? width * u->n_done / u->n_total : width;
    fprintf(stderr, "  [%.*s%.*s] %d/%d jobs\n", filled, "##############################", width - filled,
            "..............................", u->n_done, u->n_total);
    u->n_drawn = n_run + 1;
}

/* On a terminal: one stage that is not a conversion (verify), with its time, and the bar. */
static void ui_draw_stage(struct ui *u, const char *stage, const char *label, double t_start)
{
    if (!u->tty || u->quiet || cli_now() - u->t_last < 0.25)
        return;
    u->t_last = cli_now();
    if (u->n_drawn)
        fprintf(stderr, "\033[%dA\033[J", u->n_drawn);
    fprintf(stderr, "  %-8s %-44s %6.1fs\n  [##############################] %d/%d jobs converted\n", stage, label,
            cli_now() - t_start, u->n_done, u->n_total);
    u->n_drawn = 2;
}

/* ---- child processes ------------------------------------------------------------------------ */

/* Start this binary with argv (argv[0] is the subcommand), stdout and stderr to log.
 * The child dies with the batch (PR_SET_PDEATHSIG), so a kill -9 of the batch leaves no
 * conversion running behind it. Returns the pid, or -1 with a message. */
static pid_t spawn(char *const *argv, const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        ig_error_set(IG_EIO, "cannot start '%s': %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char *full[BATCH_MAX_ARGS + 16];
        full[0] = "ingot";
        int n = 0;
        while (argv[n] && n < BATCH_MAX_ARGS + 14) {
            full[n + 1] = argv[n];
            n++;
        }
        full[n + 1] = NULL;
        execv("/proc/self/exe", full);
        _exit(127);
    }
    return pid;
}

/* The exit code of a child, or 128 + signal. */
static int wait_child(pid_t pid, bool block)
{
    int status;
    pid_t r = waitpid(pid, &status, block ? 0 : WNOHANG);
    if (r == 0)
        return -1;
    if (r < 0)
        return 3;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_sync(char *const *argv, const char *log)
{
    pid_t pid = spawn(argv, log);
    return pid < 0 ? 3 : wait_child(pid, true);
}

/* The last line of a log that says "error" (or the last line), for messages. */
static void log_tail(const char *log, char *out, size_t size)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && (strstr(line, "error") || !strstr(out, "error")))
            snprintf(out, size, "%.700s", line);
    }
    fclose(f);
}

/* Append "WHAT FILE FINGERPRINT" to output.dir/.ingot-batch/events.log (O_APPEND: whole
 * lines): "convert"/"done"/"adopt" for jobs, "imatrix"/"imatrix-done" for shared steps. */
static void log_line(const char *work, const char *what, const char *file, const char *fingerprint_hex)
{
    char path[PATH_BUF], line[PATH_BUF];
    snprintf(path, sizeof path, "%.2000s/events.log", work);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd < 0)
        return;
    int n = snprintf(line, sizeof line, "%s %.1900s %s\n", what, file, fingerprint_hex);
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

static void log_event(const char *work, const char *what, const struct batch_job *j)
{
    log_line(work, what, j->file, j->fingerprint_hex);
}

/* ---- jobs ----------------------------------------------------------------------------------- */

struct batch_ctx {
    const struct opts *o;
    struct batch_manifest *m;
    struct batch_plan plan;
    struct batch_state *state;
    char work[BATCH_PATH_MAX + 32];
    struct ui ui;
    bool *shared_ok;   /* [plan.n_shared]: the step's file is ready in the work folder */
    int n_converted, n_reused, n_failed_jobs, worst_exit;
};

static void job_path(const struct batch_ctx *c, const struct batch_job *j, const char *ext, char *out, size_t size)
{
    snprintf(out, size, "%.1900s/%.1900s.%.32s", c->work, j->file, ext);
}

/* A file this process alone writes in the work folder: name + ext. Shards that share an output
 * folder run at once, so each has its own (shard-I-of-N. in front): one never removes or reads
 * another's temp file, verify log or verify JSON. */
static void own_work_path(const struct batch_ctx *c, const char *name, const char *ext, char *out, size_t size)
{
    char shard[48] = "";
    if (c->o->n_shards > 1)
        snprintf(shard, sizeof shard, "shard-%d-of-%d.", c->o->shard, c->o->n_shards);
    snprintf(out, size, "%.2000s/%s%.1900s%.32s", c->work, shard, name, ext);
}

/* Shared step x's file in the work folder, with ext appended ("" for the file itself). */
static void shared_path(const struct batch_ctx *c, const struct batch_shared *x, const char *ext, char *out, size_t size)
{
    own_work_path(c, x->file, ext, out, size);
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool output_checks(const struct batch_ctx *c, const struct batch_job *j)
{
    char log[PATH_BUF];
    job_path(c, j, "check.log", log, sizeof log);
    char *argv[] = {"check", (char *)j->output, NULL};
    return file_exists(j->output) && run_sync(argv, log) == 0;
}

static json_t *load_convert_json(const struct batch_ctx *c, const struct batch_job *j)
{
    char path[PATH_BUF];
    job_path(c, j, "convert.json", path, sizeof path);
    json_t *doc = json_load_file(path, 0, NULL);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

static int state_mark(struct batch_ctx *c, const struct batch_job *j, const char *status, json_t *convert)
{
    json_t *e = json_pack("{s:s, s:s}", "fingerprint", j->fingerprint_hex, "status", status);
    if (convert)
        json_object_set_new(e, "convert", convert);
    return batch_state_put(c->state, j->file, e);
}

/* Can job j be skipped? Yes when the state records it done with the same fingerprint and
 * its output passes `ingot check`; also when it was running with the same fingerprint and
 * both its output and convert's JSON exist (the batch died between the child's exit and the
 * state update; the old output was deleted before that child started, so this one is its). */
static bool job_reusable(struct batch_ctx *c, const struct batch_job *j)
{
    json_t *e = batch_state_get(c->state, j->file);
    const char *fp = json_string_value(json_object_get(e, "fingerprint"));
    const char *status = json_string_value(json_object_get(e, "status"));
    if (!fp || strcmp(fp, j->fingerprint_hex) != 0 || !status)
        return false;
    if (strcmp(status, "done") == 0)
        return output_checks(c, j);
    if (strcmp(status, "running") == 0) {
        json_t *conv = load_convert_json(c, j);
        if (conv && output_checks(c, j)) {
            log_event(c->work, "adopt", j);
            return state_mark(c, j, "done", conv) == 0;
        }
        json_decref(conv);
    }
    return false;
}

/* Before converting: forget the old output and any temp file a killed child left. */
static int job_prepare(struct batch_ctx *c, const struct batch_job *j)
{
    char pattern[PATH_BUF], path[PATH_BUF];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s.tmp.*", j->output);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    job_path(c, j, "convert.json", path, sizeof path);
    unlink(path);
    if (unlink(j->output) != 0 && errno != ENOENT)
        return ig_error_set(IG_EIO, "%s: cannot remove the stale output: %s", j->output, strerror(errno));
    return state_mark(c, j, "running", NULL);
}

static pid_t job_start(struct batch_ctx *c, const struct batch_job *j, int threads)
{
    char *argv[BATCH_MAX_ARGS + 16], json_path[PATH_BUF], log[PATH_BUF], th[16];
    int n = 0;
    job_path(c, j, "convert.json", json_path, sizeof json_path);
    job_path(c, j, "convert.log", log, sizeof log);
    snprintf(th, sizeof th, "%d", threads);
    argv[n++] = "convert";
    argv[n++] = c->m->sources[j->source].path;
    argv[n++] = "-o";
    argv[n++] = (char *)j->output;
    for (int i = 0; i < j->n_args; i++)
        argv[n++] = (char *)j->args[i];
    char shared[PATH_BUF];
    if (j->shared >= 0) {   /* its path is no part of the fingerprint; the step's fingerprint is */
        shared_path(c, &c->plan.shared[j->shared], "", shared, sizeof shared);
        argv[n++] = "--calib-imatrix";
        argv[n++] = shared;
    }
    argv[n++] = "--json-out";
    argv[n++] = json_path;
    argv[n++] = "--threads";
    argv[n++] = th;   /* no -q: its progress lines go to the log, where ui_draw reads them */
    argv[n] = NULL;
    log_event(c->work, "convert", j);
    return spawn(argv, log);
}

static void job_finished(struct batch_ctx *c, const struct batch_job *j, int code, double seconds)
{
    char log[PATH_BUF], tail[768];
    json_t *conv = code == 0 ? load_convert_json(c, j) : NULL;
    c->ui.n_done++;
    if (conv && state_mark(c, j, "done", conv) == 0) {
        log_event(c->work, "done", j);
        c->n_converted++;
        ui_event(&c->ui, json_pack("{s:s, s:s, s:f}", "event", "done", "job", j->file, "seconds", seconds),
                 "converted %s (%.1fs) [%d/%d]", j->file, seconds, c->ui.n_done, c->ui.n_total);
        return;
    }
    job_path(c, j, "convert.log", log, sizeof log);
    log_tail(log, tail, sizeof tail);
    c->n_failed_jobs++;
    int exit_code = code == 2 ? EXIT_BAD_INPUT : EXIT_IO;
    if (exit_code > c->worst_exit)
        c->worst_exit = exit_code;
    ui_event(&c->ui, json_pack("{s:s, s:s, s:i, s:s}", "event", "failed", "job", j->file, "exit", code, "message", tail),
             NULL);
    fprintf(stderr, "ingot batch: job %s failed (exit %d): %s (log: %s)\n", j->file, code, tail, log);
}

/* A job whose shared step failed is not started: it fails, naming the step. */
static void job_without_shared(struct batch_ctx *c, const struct batch_job *j)
{
    char msg[PATH_BUF];
    snprintf(msg, sizeof msg, "its shared step %.1900s failed (see above)", c->plan.shared[j->shared].file);
    c->ui.n_done++;
    c->n_failed_jobs++;
    state_mark(c, j, "failed", NULL);
    ui_event(&c->ui, json_pack("{s:s, s:s, s:i, s:s}", "event", "failed", "job", j->file, "exit", c->worst_exit, "message",
                               msg),
             NULL);
    fprintf(stderr, "ingot batch: job %s not converted: %s\n", j->file, msg);
}

/* Convert the jobs in todo[n], at most o->jobs at a time. */
static void run_conversions(struct batch_ctx *c, const int *todo, int n)
{
    struct running run[MAX_PARALLEL];
    int n_run = 0, next = 0, par = c->o->jobs;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = (int)(cores / par > 0 ? cores / par : 1);
    while (next < n || n_run > 0) {
        while (n_run < par && next < n) {
            const struct batch_job *j = &c->plan.jobs[todo[next++]];
            if (j->shared >= 0 && !c->shared_ok[j->shared]) {
                job_without_shared(c, j);
                continue;
            }
            pid_t pid = job_prepare(c, j) == 0 ? job_start(c, j, threads) : -1;
            if (pid < 0) {
                fprintf(stderr, "ingot batch: %s\n", ig_error_message());
                c->worst_exit = EXIT_IO;
                c->ui.n_done++;
                continue;
            }
            ui_event(&c->ui, json_pack("{s:s, s:s, s:s, s:s}", "event", "start", "job", j->file, "method", j->method,
                                       "type", j->type),
                     c->ui.tty ? NULL : "converting %s (%s, %s)", j->file, j->method, j->type);
            run[n_run++] = (struct running){pid, j->index, cli_now()};
        }
        bool reaped = false;
        for (int i = 0; i < n_run; i++) {
            int code = wait_child(run[i].pid, false);
            if (code < 0)
                continue;
            job_finished(c, &c->plan.jobs[run[i].job], code, cli_now() - run[i].t_start);
            run[i--] = run[--n_run];
            reaped = true;
        }
        ui_draw(&c->ui, &c->plan, c->work, run, n_run);
        if (!reaped && n_run > 0)
            nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
}

/* ---- shared steps ---------------------------------------------------------------------------- */

/* The shared step's file is up to date when the state records it done with the same
 * fingerprint and the file still has the bytes (xxh3-64) recorded then. */
static bool shared_reusable(struct batch_ctx *c, const struct batch_shared *x, const char *key, const char *path)
{
    json_t *e = batch_state_get(c->state, key);
    const char *fp = json_string_value(json_object_get(e, "fingerprint"));
    const char *status = json_string_value(json_object_get(e, "status"));
    const char *want = json_string_value(json_object_get(e, "xxh3"));
    uint64_t h, bytes;
    char have[17];
    if (!fp || strcmp(fp, x->fingerprint_hex) != 0 || !status || strcmp(status, "done") != 0 || !want ||
        !file_exists(path) || batch_hash_path(path, &h, &bytes) != 0)
        return false;
    batch_hex64(h, have);
    return strcmp(have, want) == 0;
}

/* `ingot imatrix SRC --calib TEXT --samples N --ctx L --seed S -o FILE`: the importance
 * matrix `convert --method rtn --calib` would compute, once for every job that takes it.
 * Returns the child's exit code (128 + signal when killed). */
static int shared_spawn(struct batch_ctx *c, const struct batch_shared *x, const char *path, const char *log)
{
    char samples[24], ctx[24], seed[24], json_path[PATH_BUF];
    snprintf(samples, sizeof samples, "%lld", (long long)x->samples);
    snprintf(ctx, sizeof ctx, "%lld", (long long)x->seq_len);
    snprintf(seed, sizeof seed, "%lld", (long long)x->seed);
    shared_path(c, x, ".json", json_path, sizeof json_path);
    char *argv[] = {"imatrix", c->m->sources[x->source].path, "--calib", c->m->calib_text, "--samples", samples,
                    "--ctx", ctx, "--seed", seed, "-o", (char *)path, "--json-out", json_path, NULL};
    double t0 = cli_now();
    pid_t pid = spawn(argv, log);
    int code = pid < 0 ? 3 : -1;
    while (code < 0 && (code = wait_child(pid, false)) < 0) {
        ui_draw_stage(&c->ui, "imatrix", c->m->sources[x->source].name, t0);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    return code;
}

/* Run shared step k (needed by n_need of this run's jobs) unless its file is up to date;
 * sets c->shared_ok[k]. A failure is reported here and fails the jobs that need it later. */
static void shared_run(struct batch_ctx *c, int k, int n_need)
{
    const struct batch_shared *x = &c->plan.shared[k];
    const char *model = c->m->sources[x->source].name;
    char path[PATH_BUF], key[PATH_BUF], log[PATH_BUF], pattern[PATH_BUF + 8];
    shared_path(c, x, "", path, sizeof path);
    shared_path(c, x, ".log", log, sizeof log);
    snprintf(key, sizeof key, "shared:%.1900s", strrchr(path, '/') + 1);
    if (!c->o->fresh && shared_reusable(c, x, key, path)) {
        c->shared_ok[k] = true;
        ui_event(&c->ui, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "event", "shared_skip", "step", "imatrix", "model",
                                   model, "fingerprint", x->fingerprint_hex, "jobs", n_need, "reason", "same fingerprint"),
                 "the importance matrix of %s (%lld x %lld tokens, seed %lld) is up to date (%s); %d job(s) take it",
                 model, (long long)x->samples, (long long)x->seq_len, (long long)x->seed, x->fingerprint_hex, n_need);
        return;
    }
    glob_t g;   /* a temp file a killed child left, and the old file */
    snprintf(pattern, sizeof pattern, "%s.tmp.*", path);
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    unlink(path);
    batch_state_put(c->state, key, json_pack("{s:s, s:s}", "fingerprint", x->fingerprint_hex, "status", "running"));
    log_line(c->work, "imatrix", x->file, x->fingerprint_hex);
    ui_event(&c->ui, json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:I}", "event", "shared", "step", "imatrix", "model",
                               model, "fingerprint", x->fingerprint_hex, "jobs", n_need, "samples",
                               (json_int_t)x->samples, "seq_len", (json_int_t)x->seq_len, "seed", (json_int_t)x->seed),
             "computing the importance matrix of %s once (%lld x %lld tokens, seed %lld) for %d job(s)", model,
             (long long)x->samples, (long long)x->seq_len, (long long)x->seed, n_need);
    double t0 = cli_now();
    int code = shared_spawn(c, x, path, log);
    uint64_t h = 0, bytes;
    char hex[17], tail[768];
    if (code == 0 && batch_hash_path(path, &h, &bytes) == 0) {
        batch_hex64(h, hex);
        batch_state_put(c->state, key,
                        json_pack("{s:s, s:s, s:s}", "fingerprint", x->fingerprint_hex, "status", "done", "xxh3", hex));
        log_line(c->work, "imatrix-done", x->file, x->fingerprint_hex);
        c->shared_ok[k] = true;
        ui_event(&c->ui, json_pack("{s:s, s:s, s:s, s:f}", "event", "shared_done", "step", "imatrix", "model", model,
                                   "seconds", cli_now() - t0),
                 "computed the importance matrix of %s (%.1fs)", model, cli_now() - t0);
        return;
    }
    log_tail(log, tail, sizeof tail);
    int exit_code = code == 2 ? EXIT_BAD_INPUT : EXIT_IO;
    if (exit_code > c->worst_exit)
        c->worst_exit = exit_code;
    ui_event(&c->ui, json_pack("{s:s, s:s, s:s, s:i, s:s}", "event", "shared_failed", "step", "imatrix", "model", model,
                               "exit", code, "message", tail),
             NULL);
    fprintf(stderr, "ingot batch: the importance matrix of %s failed (exit %d): %s (log: %s)\n", model, code, tail, log);
}

/* The shared steps the jobs in todo[n] need, each once, in plan order. */
static void run_shared(struct batch_ctx *c, const int *todo, int n)
{
    for (int k = 0; k < c->plan.n_shared; k++) {
        int n_need = 0;
        for (int i = 0; i < n; i++)
            n_need += c->plan.jobs[todo[i]].shared == k;
        if (n_need)
            shared_run(c, k, n_need);
    }
}

/* ---- verification --------------------------------------------------------------------------- */

/* The identity of the evaluation setup: figures measured under another one are redone. */
static int eval_key(const struct batch_manifest *m, const struct batch_plan *p, int source, char out[17])
{
    uint64_t h, bytes;
    int rc = batch_hash_path(m->eval_text, &h, &bytes);
    if (rc)
        return ig_error_wrap(rc, "evaluation.text");
    char text[256];
    snprintf(text, sizeof text, "%016llx %016llx %lld %lld %d %lld", (unsigned long long)h,
             (unsigned long long)p->source_hash[source], (long long)m->eval_ctx, (long long)m->eval_chunks, m->n_tasks,
             (long long)m->eval_task_limit);
    uint64_t k = 1469598103934665603ull;   /* FNV-1a over the short text */
    for (const char *s = text; *s; s++)
        k = (k ^ (uint8_t)*s) * 1099511628211ull;
    batch_hex64(k, out);
    return 0;
}

/* One `ingot verify` over every container of source that lacks figures. */
static int verify_source(struct batch_ctx *c, int source, const int *mine, int n_mine)
{
    char key[17], json_path[PATH_BUF], log[PATH_BUF], ctx[24], chunks[24];
    int rc = eval_key(c->m, &c->plan, source, key);
    if (rc)
        return rc;
    char *argv[BATCH_MAX_LIST * 3 + 64];
    const struct batch_job *jobs[4096];
    int n = 0, n_jobs = 0;
    argv[n++] = "verify";
    for (int i = 0; i < n_mine && n_jobs < 4096; i++) {
        const struct batch_job *j = &c->plan.jobs[mine[i]];
        json_t *e = batch_state_get(c->state, j->file);
        const char *have = json_string_value(json_object_get(e, "eval_key"));
        if (j->source != source || strcmp(str_or_empty(json_string_value(json_object_get(e, "status"))), "done") != 0 ||
            (have && strcmp(have, key) == 0 && json_object_get(e, "figures")))
            continue;
        jobs[n_jobs++] = j;
    }
    if (n_jobs == 0)
        return 0;
    if (n_jobs > BATCH_MAX_LIST * 2)
        n_jobs = BATCH_MAX_LIST * 2;   /* the rest waits for the next call (the loop repeats) */
    for (int i = 0; i < n_jobs; i++)
        argv[n++] = (char *)jobs[i]->output;
    char name[PATH_BUF];
    snprintf(name, sizeof name, "verify-%s", c->m->sources[source].name);
    own_work_path(c, name, ".json", json_path, sizeof json_path);
    own_work_path(c, name, ".log", log, sizeof log);
    snprintf(ctx, sizeof ctx, "%lld", (long long)c->m->eval_ctx);
    argv[n++] = "--source";
    argv[n++] = c->m->sources[source].path;
    argv[n++] = "--eval";
    argv[n++] = c->m->eval_text;
    argv[n++] = "--ctx";
    argv[n++] = ctx;
    if (c->m->eval_chunks) {
        snprintf(chunks, sizeof chunks, "%lld", (long long)c->m->eval_chunks);
        argv[n++] = "--chunks";
        argv[n++] = chunks;
    }
    for (int i = 0; i < c->m->n_tasks; i++) {
        argv[n++] = "--tasks";
        argv[n++] = c->m->tasks[i];
    }
    char limit[24];
    if (c->m->eval_task_limit) {
        snprintf(limit, sizeof limit, "%lld", (long long)c->m->eval_task_limit);
        argv[n++] = "--task-limit";
        argv[n++] = limit;
    }
    argv[n++] = "--json-out";
    argv[n++] = json_path;
    argv[n++] = "-q";
    argv[n] = NULL;
    ui_event(&c->ui, json_pack("{s:s, s:s, s:i}", "event", "verify", "model", c->m->sources[source].name, "containers",
                               n_jobs),
             "verifying %d container(s) of %s against the source", n_jobs, c->m->sources[source].name);
    double t0 = cli_now();
    unlink(json_path);
    pid_t pid = spawn(argv, log);
    int code = pid < 0 ? 3 : -1;
    while (code < 0 && (code = wait_child(pid, false)) < 0) {
        ui_draw_stage(&c->ui, "verify", c->m->sources[source].name, t0);
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    json_t *doc = code == 0 ? json_load_file(json_path, 0, NULL) : NULL;
    json_t *containers = json_object_get(doc, "containers");
    if (!json_is_array(containers) || json_array_size(containers) != (size_t)n_jobs) {
        char tail[768];
        log_tail(log, tail, sizeof tail);
        json_decref(doc);
        return ig_error_set(code == 2 ? IG_EINVAL : IG_EIO, "verify of %s failed (exit %d): %s (log: %s)",
                            c->m->sources[source].name, code, tail, log);
    }
    for (int i = 0; i < n_jobs && !rc; i++) {
        json_t *e = json_deep_copy(batch_state_get(c->state, jobs[i]->file));
        json_t *figures = json_deep_copy(json_array_get(containers, (size_t)i));
        batch_figures_add_tasks(figures);
        json_object_set_new(e, "figures", figures);
        json_object_set(e, "source_figures", json_object_get(doc, "source"));
        json_object_set(e, "eval", json_object_get(doc, "eval"));
        json_object_set_new(e, "eval_key", json_string(key));
        rc = batch_state_put(c->state, jobs[i]->file, e);
    }
    json_decref(doc);
    ui_event(&c->ui, json_pack("{s:s, s:s, s:f}", "event", "verified", "model", c->m->sources[source].name, "seconds",
                               cli_now() - t0),
             "verified %s in %.1fs", c->m->sources[source].name, cli_now() - t0);
    return rc ? rc : verify_source(c, source, mine, n_mine);
}

/* ---- the report ----------------------------------------------------------------------------- */

static json_t *gate_texts(const struct batch_gate *g, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(g[i].text));
    return a;
}

/* What job j takes from work done once: the shared step, or why a calibrated job has none. */
static json_t *job_shares(const struct batch_ctx *c, const struct batch_job *j)
{
    if (j->shared >= 0) {
        const struct batch_shared *x = &c->plan.shared[j->shared];
        return json_pack("{s:s, s:s, s:i}", "step", "imatrix", "fingerprint", x->fingerprint_hex, "jobs", x->n_jobs);
    }
    if (strcmp(j->method, "rtn") != 0)
        return json_pack("{s:n, s:s}", "step", "why_not",
                         "GPTQ and AWQ capture each group's input on the model quantized so far (to this job's "
                         "type): their statistics depend on the type");
    return json_null();
}

static json_t *job_object(struct batch_ctx *c, const struct batch_job *j)
{
    json_t *e = batch_state_get(c->state, j->file), *conv = json_object_get(e, "convert");
    json_t *args = json_array();
    for (int i = 0; i < j->n_args; i++)
        json_array_append_new(args, json_string(j->args[i]));
    struct batch_gate gates[2 * BATCH_MAX_GATES];
    int n_gates = batch_gates_resolve(c->m, j->spec, gates);
    /* no timings or run counts: the report is a function of the manifest and its inputs, the
     * same bytes whether the batch ran at once or was killed and resumed */
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:O?, s:O?, s:o, s:o}", "index", j->index,
                     "job", j->file, "model", c->m->sources[j->source].name, "method", j->method, "type", j->type,
                     "output", j->output, "fingerprint", j->fingerprint_hex, "args", args, "shares", job_shares(c, j),
                     "figures", json_object_get(e, "figures"), "layers", json_object_get(conv, "layers"), "gate_defs",
                     gate_texts(gates, n_gates), "shard", json_integer(j->shard));
}

static json_t *models_array(struct batch_ctx *c, const int *mine, int n_mine)
{
    json_t *models = json_array();
    for (int s = 0; s < c->m->n_sources; s++) {
        json_t *src = NULL, *ev = NULL;
        for (int i = 0; i < n_mine && !src; i++)
            if (c->plan.jobs[mine[i]].source == s) {
                json_t *e = batch_state_get(c->state, c->plan.jobs[mine[i]].file);
                src = json_object_get(e, "source_figures");
                ev = json_object_get(e, "eval");
            }
        char hex[17];
        batch_hex64(c->plan.source_hash[s], hex);
        json_array_append_new(models, json_pack("{s:s, s:s, s:s, s:O?, s:O?}", "name", c->m->sources[s].name, "path",
                                                c->m->sources[s].path, "source_hash", hex, "source", src, "eval", ev));
    }
    return models;
}

/* Gates, envelope and frontier over report["jobs"]; prints each failed gate. Returns the
 * number of failed gates. */
static int report_judge(json_t *report, struct ui *u)
{
    json_t *jobs = json_object_get(report, "jobs"), *env_texts = json_object_get(report, "envelope");
    struct batch_gate env[BATCH_MAX_GATES];
    int n_env = 0, n_failed = 0;
    for (size_t i = 0; i < json_array_size(env_texts) && n_env < BATCH_MAX_GATES; i++)
        if (batch_gate_parse(&env[n_env], str_or_empty(json_string_value(json_array_get(env_texts, i)))) == 0)
            n_env++;
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *job = json_array_get(jobs, i), *defs = json_object_get(job, "gate_defs");
        struct batch_gate g[2 * BATCH_MAX_GATES];
        int n = 0;
        for (size_t k = 0; k < json_array_size(defs) && n < 2 * BATCH_MAX_GATES; k++)
            if (batch_gate_parse(&g[n], str_or_empty(json_string_value(json_array_get(defs, k)))) == 0)
                n++;
        n_failed += batch_job_apply_gates(job, g, n);
        json_t *res = json_object_get(job, "gates");
        for (size_t k = 0; k < json_array_size(res); k++) {
            json_t *r = json_array_get(res, k);
            if (json_is_true(json_object_get(r, "pass")))
                continue;
            const char *jname = json_string_value(json_object_get(job, "job"));
            json_t *v = json_object_get(r, "value");
            char val[64];
            if (json_is_number(v))
                snprintf(val, sizeof val, "%.6g", json_number_value(v));
            else
                snprintf(val, sizeof val, "not measured");
            fprintf(stderr, "ingot batch: gate failed: job %s: %s = %s, allowed %s %g (gate '%s')\n", jname,
                    json_string_value(json_object_get(r, "figure")), val, json_string_value(json_object_get(r, "op")),
                    json_number_value(json_object_get(r, "threshold")), json_string_value(json_object_get(r, "gate")));
            ui_event(u, json_pack("{s:s, s:s, s:O}", "event", "gate_failed", "job", jname, "gate", r), NULL);
        }
    }
    batch_jobs_mark(jobs, env, n_env);
    size_t n_viable = 0;
    for (size_t i = 0; i < json_array_size(jobs); i++)
        n_viable += json_is_true(json_object_get(json_array_get(jobs, i), "viable"));
    json_t *summary = json_object_get(report, "summary");
    if (!json_is_object(summary))
        json_object_set_new(report, "summary", summary = json_object());
    json_object_set_new(summary, "jobs", json_integer((json_int_t)json_array_size(jobs)));
    json_object_set_new(summary, "gates_failed", json_integer(n_failed));
    json_object_set_new(summary, "viable", json_integer((json_int_t)n_viable));
    return n_failed;
}

/* report.json, report.md and report.html in dir. */
static int report_write_all(json_t *report, const char *dir, const char *json_out)
{
    char path[PATH_BUF];
    snprintf(path, sizeof path, "%s/report.json", dir);
    int rc = batch_json_write_atomic(report, path);
    char *md = rc ? NULL : report_markdown(report);
    char *html = md ? report_html(report) : NULL;
    if (!rc && (!md || !html))
        rc = ig_error_set(IG_ENOMEM, "cannot render the report");
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.md", dir);
        rc = batch_text_write_atomic(md, path);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/report.html", dir);
        rc = batch_text_write_atomic(html, path);
    }
    if (!rc && json_out)
        rc = batch_json_write_atomic(report, json_out);
    free(md);
    free(html);
    return rc;
}

/* Every job's type is one `ingot convert --type` knows, checked before any work starts. */
static int check_types(const struct batch_manifest *m, const struct batch_plan *p)
{
    for (int i = 0; i < p->n_jobs; i++) {
        const struct batch_job *j = &p->jobs[i];
        if (!plan_file_type_find(j->type))
            return ig_error_set(IG_EINVAL, "%s:%d:%d: key 'jobs[].types': '%s' is not a type (known: %s)", m->path,
                                m->specs[j->spec].line, m->specs[j->spec].column, j->type, plan_file_type_names());
    }
    return 0;
}

/* ---- options -------------------------------------------------------------------------------- */

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    char *end;
    long x = v && *v ? strtol(v, &end, 10) : -1;
    return v && *v && !*end && x >= 0 ? (int)x : fallback;
}

/* --shard, else Slurm's array variables, else JOB_COMPLETION_INDEX with --shards. */
static int resolve_shard(struct opts *o, const char *shard_text)
{
    if (shard_text)
        return batch_shard_parse(shard_text, &o->shard, &o->n_shards);
    int id = env_int("SLURM_ARRAY_TASK_ID", -1), count = env_int("SLURM_ARRAY_TASK_COUNT", -1);
    if (id >= 0 && count > 0) {
        o->shard = id - env_int("SLURM_ARRAY_TASK_MIN", 0);
        o->n_shards = count;
    } else if (o->n_shards > 0 && env_int("JOB_COMPLETION_INDEX", -1) >= 0) {
        o->shard = env_int("JOB_COMPLETION_INDEX", 0);
    } else if (o->n_shards > 0) {
        return ig_error_set(IG_EINVAL, "--shards %d: JOB_COMPLETION_INDEX is not set (give --shard I/N)", o->n_shards);
    } else {
        o->shard = 0;
        o->n_shards = 1;
    }
    if (o->shard < 0 || o->shard >= o->n_shards)
        return ig_error_set(IG_EINVAL, "shard index %d is outside 0..%d", o->shard, o->n_shards - 1);
    return 0;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, 0, 'j'}, {"shard", required_argument, 0, 'S'},
        {"shards", required_argument, 0, 'N'}, {"json", no_argument, 0, 'J'},
        {"json-out", required_argument, 0, 'O'}, {"merge", no_argument, 0, 'M'},
        {"output", required_argument, 0, 'o'}, {"quiet", no_argument, 0, 'q'},
        {"dry-run", no_argument, 0, 'n'}, {"resume", no_argument, 0, 'R'},
        {"fresh", no_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *shard_text = NULL;
    int64_t v;
    memset(o, 0, sizeof *o);
    o->jobs = 1;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "j:o:qh", longopts, NULL)) != -1;) {
        switch (c) {
        case 'j':
            if (!cli_parse_int("batch", "--jobs", optarg, 1, MAX_PARALLEL, &v))
                return EXIT_BAD_INPUT;
            o->jobs = (int)v;
            break;
        case 'S': shard_text = optarg; break;
        case 'N':
            if (!cli_parse_int("batch", "--shards", optarg, 1, 100000, &v))
                return EXIT_BAD_INPUT;
            o->n_shards = (int)v;
            break;
        case 'J': o->json = true; break;
        case 'O': o->json_out = optarg; break;
        case 'M': o->merge = true; break;
        case 'o': o->merge_out = optarg; break;
        case 'q': o->quiet = true; break;
        case 'n': o->dry_run = true; break;
        case 'R': o->fresh = false; break;   /* resuming is the default */
        case 'F': o->fresh = true; break;
        case 'h': fputs(batch_usage, stdout); return -1;
        default: return cli_usage_error("batch", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (o->merge)
        return optind < argc ? 0 : cli_usage_error("batch", "--merge needs at least one folder");
    if (optind != argc - 1)
        return cli_usage_error("batch", optind == argc ? "no manifest given" : "one manifest at a time");
    o->manifest = argv[optind];
    if (resolve_shard(o, shard_text) != 0)
        return cli_usage_error("batch", "%s", ig_error_message());
    return 0;
}

/* ---- merge ---------------------------------------------------------------------------------- */

static int cmp_job_index(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "index"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "index"));
    return (x > y) - (x < y);
}

/* A shard without jobs of a model has no source figures for it: take them from any that has. */
static void merge_models(json_t *report, const json_t *frag)
{
    json_t *mine = json_object_get(report, "models"), *theirs = json_object_get(frag, "models");
    for (size_t i = 0; i < json_array_size(mine); i++) {
        json_t *m = json_array_get(mine, i);
        if (json_is_object(json_object_get(m, "source")))
            continue;
        for (size_t k = 0; k < json_array_size(theirs); k++) {
            json_t *t = json_array_get(theirs, k);
            if (json_equal(json_object_get(t, "name"), json_object_get(m, "name")) &&
                json_is_object(json_object_get(t, "source"))) {
                json_object_set(m, "source", json_object_get(t, "source"));
                json_object_set(m, "eval", json_object_get(t, "eval"));
            }
        }
    }
}

/* Join the fragments of every folder into one report. */
static int merge_fragments(json_t **out, char **dirs, int n_dirs)
{
    json_t *report = NULL, *jobs = json_object(), *seen_shards = json_object();
    int n_shards = 0, rc = 0;
    for (int d = 0; d < n_dirs && !rc; d++) {
        char pattern[PATH_BUF];
        glob_t g;
        snprintf(pattern, sizeof pattern, "%s/report.shard-*-of-*.json", dirs[d]);
        if (glob(pattern, 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
            json_error_t err;
            json_t *frag = json_load_file(g.gl_pathv[i], 0, &err);
            json_t *shard = json_object_get(frag, "shard"), *fj = json_object_get(frag, "jobs");
            if (!json_is_object(shard) || !json_is_array(fj)) {
                rc = ig_error_set(IG_EINVAL, "%s: not an ingot batch report fragment (%s)", g.gl_pathv[i],
                                  frag ? "no shard or jobs" : err.text);
                json_decref(frag);
                break;
            }
            int count = (int)json_integer_value(json_object_get(shard, "count"));
            if (n_shards && count != n_shards)
                rc = ig_error_set(IG_EINVAL, "%s: a fragment of %d shards among fragments of %d", g.gl_pathv[i], count,
                                  n_shards);
            n_shards = count;
            char idx[32];
            snprintf(idx, sizeof idx, "%lld", (long long)json_integer_value(json_object_get(shard, "index")));
            json_object_set_new(seen_shards, idx, json_true());
            for (size_t k = 0; k < json_array_size(fj) && !rc; k++) {
                json_t *job = json_array_get(fj, k), *prev;
                const char *name = json_string_value(json_object_get(job, "job"));
                if (!name)
                    continue;
                prev = json_object_get(jobs, name);
                if (prev && !json_equal(json_object_get(prev, "fingerprint"), json_object_get(job, "fingerprint")))
                    rc = ig_error_set(IG_EINVAL, "%s: job %s has another fingerprint than in an earlier fragment",
                                      g.gl_pathv[i], name);
                json_object_set(jobs, name, job);
            }
            if (!report) {
                report = json_deep_copy(frag);
                json_object_set_new(report, "summary", json_object());   /* recounted by report_judge */
            }
            merge_models(report, frag);
            json_decref(frag);
        }
        globfree(&g);
    }
    if (!rc && !report)
        rc = ig_error_set(IG_EINVAL, "%s: no report.shard-*-of-*.json fragments found", dirs[0]);
    if (!rc && (int)json_object_size(seen_shards) != n_shards)
        rc = ig_error_set(IG_EINVAL, "found fragments of %zu shard(s) out of %d; run the missing shards first",
                          json_object_size(seen_shards), n_shards);
    if (!rc) {
        size_t n = json_object_size(jobs), i = 0;
        json_t **arr = calloc(n ? n : 1, sizeof *arr), *v;
        const char *name;
        json_object_foreach(jobs, name, v) {
            (void)name;
            arr[i++] = v;
        }
        qsort(arr, n, sizeof *arr, cmp_job_index);
        json_t *list = json_array();
        for (i = 0; i < n; i++)
            json_array_append(list, arr[i]);
        free(arr);
        json_object_set_new(report, "jobs", list);
        json_object_set_new(report, "shard", json_null());
        json_object_set_new(report, "merged_shards", json_integer(n_shards));
    }
    json_decref(jobs);
    json_decref(seen_shards);
    if (rc)
        json_decref(report);
    *out = rc ? NULL : report;
    return rc;
}

static int cmd_merge(const struct opts *o, char **dirs, int n_dirs)
{
    json_t *report;
    struct ui u = {.json = o->json, .quiet = o->quiet};
    int rc = merge_fragments(&report, dirs, n_dirs);
    if (rc)
        return cli_fail("batch", rc);
    int n_failed = report_judge(report, &u);
    const char *out = o->merge_out ? o->merge_out : dirs[0];
    if (mkdir(out, 0777) != 0 && errno != EEXIST)
        rc = ig_error_set(IG_EIO, "%s: cannot create: %s", out, strerror(errno));
    if (!rc)
        rc = report_write_all(report, out, o->json_out);
    json_decref(report);
    if (rc)
        return cli_fail("batch", rc);
    ui_event(&u, json_pack("{s:s, s:i}", "event", "merged", "gates_failed", n_failed), "merged %d folder(s); %d gate(s) failed",
             n_dirs, n_failed);
    return n_failed ? EXIT_GATE : EXIT_OK;
}

/* ---- the batch ------------------------------------------------------------------------------ */

/* The plan event's list of shared steps: [{step, model, fingerprint, file, jobs: [FILE...]}]. */
static json_t *shared_plan(const struct batch_ctx *c)
{
    json_t *list = json_array();
    for (int k = 0; k < c->plan.n_shared; k++) {
        const struct batch_shared *x = &c->plan.shared[k];
        json_t *jobs = json_array();
        for (int i = 0; i < c->plan.n_jobs; i++)
            if (c->plan.jobs[i].shared == k)
                json_array_append_new(jobs, json_string(c->plan.jobs[i].file));
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:o}", "step", "imatrix", "model",
                                              c->m->sources[x->source].name, "fingerprint", x->fingerprint_hex, "file",
                                              x->file, "jobs", jobs));
    }
    return list;
}

static int batch_run(struct batch_ctx *c, int *mine, int n_mine)
{
    int todo[4096], n_todo = 0, rc;
    for (int i = 0; i < n_mine; i++) {
        const struct batch_job *j = &c->plan.jobs[mine[i]];
        if (!c->o->fresh && job_reusable(c, j)) {
            c->n_reused++;
            c->ui.n_done++;
            ui_event(&c->ui, json_pack("{s:s, s:s, s:s}", "event", "skip", "job", j->file, "reason", "same fingerprint"),
                     "%s is up to date (fingerprint %s); skipped", j->file, j->fingerprint_hex);
        } else if (n_todo < 4096) {
            todo[n_todo++] = mine[i];
        }
    }
    run_shared(c, todo, n_todo);
    run_conversions(c, todo, n_todo);
    for (int s = 0; s < c->m->n_sources; s++)
        if ((rc = verify_source(c, s, mine, n_mine)))
            return rc;
    return 0;
}

static json_t *report_build(struct batch_ctx *c, const int *mine, int n_mine)
{
    json_t *jobs = json_array();
    for (int i = 0; i < n_mine; i++) {
        const struct batch_job *j = &c->plan.jobs[mine[i]];
        /* a job that did not finish stays in the report, unmeasured, so its gates fail visibly */
        json_t *e = batch_state_get(c->state, j->file), *obj = job_object(c, j);
        bool done = strcmp(str_or_empty(json_string_value(json_object_get(e, "status"))), "done") == 0;
        json_object_set_new(obj, "status", json_string(done ? "done" : "failed"));
        json_array_append_new(jobs, obj);
    }
    json_t *shard = c->o->n_shards > 1 ? json_pack("{s:i, s:i}", "index", c->o->shard, "count", c->o->n_shards)
                                       : json_null();
    return json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:{}}", "ingot_batch", 1, "ingot_version",
                     INGOT_VERSION, "manifest", c->m->path, "shard", shard, "models", models_array(c, mine, n_mine),
                     "jobs", jobs, "gates", gate_texts(c->m->gates, c->m->n_gates), "envelope",
                     gate_texts(c->m->envelope, c->m->n_envelope), "summary");
}

int cmd_batch(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(&o, argc, argv);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (o.merge)
        return cmd_merge(&o, argv + optind, argc - optind);
    struct batch_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->m = malloc(sizeof *c->m))) {
        free(c);
        return cli_fail("batch", ig_error_set(IG_ENOMEM, "out of memory"));
    }
    c->o = &o;
    c->ui = (struct ui){.json = o.json, .quiet = o.quiet, .tty = isatty(2)};
    int exit_code = EXIT_OK, mine[4096], n_mine = 0;
    json_t *report = NULL;
    if ((rc = batch_manifest_read(c->m, o.manifest)) || (rc = batch_manifest_check_files(c->m)) ||
        (rc = batch_plan_create(&c->plan, c->m, INGOT_VERSION, o.n_shards)) || (rc = check_types(c->m, &c->plan)))
        goto out_fail;
    if (o.dry_run) {
        for (int k = 0; k < c->plan.n_shared; k++) {
            const struct batch_shared *x = &c->plan.shared[k];
            printf("shared %s imatrix %s --calib %s --samples %lld --ctx %lld --seed %lld -o %s (%d job(s))\n",
                   x->fingerprint_hex, c->m->sources[x->source].path, c->m->calib_text, (long long)x->samples,
                   (long long)x->seq_len, (long long)x->seed, x->file, x->n_jobs);
        }
        for (int i = 0; i < c->plan.n_jobs; i++) {
            const struct batch_job *j = &c->plan.jobs[i];
            printf("%d/%d %s %10.3g %s  convert %s -o %s", j->shard, o.n_shards, j->fingerprint_hex, j->cost,
                   j->shard == o.shard ? "*" : " ", c->m->sources[j->source].path, j->output);
            for (int k = 0; k < j->n_args; k++)
                printf(" %s", j->args[k]);
            if (j->shared >= 0)
                printf(" --calib-imatrix %s", c->plan.shared[j->shared].file);
            printf("\n");
        }
        goto out_free;
    }
    char state_name[96];
    if (o.n_shards > 1)
        snprintf(state_name, sizeof state_name, "ingot-batch.state.%d-of-%d.json", o.shard, o.n_shards);
    else
        snprintf(state_name, sizeof state_name, "ingot-batch.state.json");
    if ((rc = batch_state_open(&c->state, c->m->output_dir, state_name)))
        goto out_fail;
    snprintf(c->work, sizeof c->work, "%s/" WORK_DIR, c->m->output_dir);
    if (mkdir(c->work, 0777) != 0 && errno != EEXIST) {
        rc = ig_error_set(IG_EIO, "%s: cannot create: %s", c->work, strerror(errno));
        goto out_fail;
    }
    if (c->plan.n_jobs > 4096) {
        rc = ig_error_set(IG_EINVAL, "%s: %d jobs; at most 4096 per batch (split the manifest)", c->m->path,
                          c->plan.n_jobs);
        goto out_fail;
    }
    for (int i = 0; i < c->plan.n_jobs; i++)
        if (c->plan.jobs[i].shard == o.shard)
            mine[n_mine++] = i;
    c->ui.n_total = n_mine;
    if (!(c->shared_ok = calloc((size_t)c->plan.n_shared + 1, sizeof *c->shared_ok))) {
        rc = ig_error_set(IG_ENOMEM, "out of memory");
        goto out_fail;
    }
    ui_event(&c->ui, json_pack("{s:s, s:i, s:i, s:i, s:i, s:o}", "event", "plan", "jobs", c->plan.n_jobs, "mine", n_mine,
                               "shard", o.shard, "shards", o.n_shards, "shared", shared_plan(c)),
             "%s: %d job(s); %d in this shard (%d/%d)", c->m->path, c->plan.n_jobs, n_mine, o.shard, o.n_shards);
    if ((rc = batch_run(c, mine, n_mine)))
        goto out_fail;
    report = report_build(c, mine, n_mine);
    int n_failed = report_judge(report, &c->ui);
    if (o.n_shards > 1) {
        char path[PATH_BUF];
        snprintf(path, sizeof path, "%s/report.shard-%d-of-%d.json", c->m->output_dir, o.shard, o.n_shards);
        rc = batch_json_write_atomic(report, path);
        if (!rc && o.json_out)
            rc = batch_json_write_atomic(report, o.json_out);
    } else {
        rc = report_write_all(report, c->m->output_dir, o.json_out);
    }
    if (rc)
        goto out_fail;
    ui_event(&c->ui, json_pack("{s:s, s:i, s:i, s:i, s:i}", "event", "summary", "converted", c->n_converted, "reused",
                               c->n_reused, "failed", c->n_failed_jobs, "gates_failed", n_failed),
             "%d converted, %d up to date, %d failed; %d gate(s) failed; report in %s", c->n_converted, c->n_reused,
             c->n_failed_jobs, n_failed, c->m->output_dir);
    exit_code = c->worst_exit ? c->worst_exit : n_failed ? EXIT_GATE : EXIT_OK;
    goto out_free;
out_fail:
    exit_code = cli_fail("batch", rc);
out_free:
    json_decref(report);
    batch_state_close(c->state);
    batch_plan_destroy(&c->plan);
    free(c->shared_ok);
    free(c->m);
    free(c);
    return exit_code;
}
