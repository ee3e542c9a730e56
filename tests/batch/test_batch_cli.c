/* test_batch_cli.c — `ingot batch` end to end on the demo model (examples/tl3m): exit codes,
 * resume after kill -9 with byte-identical outputs and no finished job converted twice,
 * changing one job redoes it alone, and two shards merged equal the unsharded run.
 *
 * Each test writes a small manifest (rounding only, 4 evaluation windows of 128 tokens) into a
 * fresh folder and runs build/ingot as a subprocess. The kill test's delays come from a
 * fixed seed, printed on failure.
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH_TEST_MAX_ARGS 64

/* ---- helpers -------------------------------------------------------------------------------- */

/* <tmp>/m.yaml over examples/tl3m with the given jobs and gates, writing to <tmp>/out_name.
 * Returns the manifest's path (static, 4 slots). */
static const char *write_manifest(const char *dir, const char *out_name, const char *jobs, const char *gates)
{
    static char paths[4][4300];
    static int next;
    char *path = paths[next++ % 4], text[8192];
    const char *root = getenv("INGOT_ROOT");
    cr_assert_not_null(root, "INGOT_ROOT is not set");
    snprintf(text, sizeof text,
             "version: 1\nsources:\n  - name: tl3m\n    path: %s/examples/tl3m\n"
             "evaluation:\n  text: %s/examples/tl3m/eval.txt\n  ctx: 128\n  chunks: 4\n"
             "jobs:\n%s"
             "output:\n  dir: %s\n"
             "gates:\n%s"
             "envelope:\n  - bpw <= 5\n",
             root, root, jobs, out_name, gates);
    snprintf(path, 4300, "%s/%s.yaml", dir, out_name);
    cr_assert_eq(test_write_file(path, text, strlen(text)), 0);
    return path;
}

static const char small_jobs[] = "  - method: rtn\n    types: [Q8_0, Q4_0]\n  - method: rtn\n    types: [Q2_K]\n";

/* How many lines of text start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

static bool files_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    bool eq = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return eq;
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    cr_assert_not_null(j, "%s: %s", path, err.text);
    return j;
}

/* ---- exit codes ----------------------------------------------------------------------------- */

Test(batch_cli, passing_manifest_exits_0_and_a_rerun_converts_nothing, .timeout = 300)
{
    const char *dir = test_tmp_dir();
    const char *m = write_manifest(dir, "out", small_jobs, "  - kld_mean <= 0.1\n  - same_top_pct >= 50\n");
    struct test_run r;
    const char *argv[] = {"batch", m, "--jobs", "2", "--json", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\""), 3, "%s", r.out);
    char out[4300];
    snprintf(out, sizeof out, "%s/out", dir);
    json_t *rep = load_json(out, "report.json");
    cr_expect_eq(json_array_size(json_object_get(rep, "jobs")), 3);
    json_t *j0 = json_array_get(json_object_get(rep, "jobs"), 0);
    cr_expect(json_is_number(json_object_get(json_object_get(j0, "figures"), "kld_mean")));
    cr_expect(json_is_true(json_object_get(j0, "gates_pass")));
    json_decref(rep);
    for (const char *f = "report.md"; f; f = strcmp(f, "report.md") == 0 ? "report.html" : NULL) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", out, f);
        size_t n;
        char *text = (char *)test_read_file(p, &n);
        cr_expect(text && strstr(text, "✔") && strstr(text, "Q2_K"), "%s", f);
        free(text);
    }
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\""), 0, "a rerun converts nothing: %s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"skip\""), 3, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"verify\""), 0, "figures are kept in the state: %s", r.out);

    /* a damaged output (one flipped bit: `ingot check` fails) and a deleted one are redone */
    char q4[4400], q8[4400], keep[4400];
    snprintf(q4, sizeof q4, "%s/tl3m-Q4_0-rtn.gguf", out);
    snprintf(q8, sizeof q8, "%s/tl3m-Q8_0-rtn.gguf", out);
    snprintf(keep, sizeof keep, "%s/q4.keep", dir);
    size_t n;
    uint8_t *bytes = test_read_file(q4, &n);
    cr_assert_not_null(bytes);
    cr_assert_eq(test_write_file(keep, bytes, n), 0);
    bytes[n - 100] ^= 0x10;
    cr_assert_eq(test_write_file(q4, bytes, n), 0);
    free(bytes);
    cr_assert_eq(unlink(q8), 0);
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\""), 2, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"skip\""), 1, "%s", r.out);
    cr_expect(files_equal(q4, keep), "the redone file equals the first one");
}

Test(batch_cli, impossible_gate_exits_1_naming_job_figure_and_bound, .timeout = 300)
{
    const char *dir = test_tmp_dir();
    const char *m = write_manifest(dir, "out", "  - method: rtn\n    types: [Q2_K]\n", "  - kld_mean <= 0.000001\n");
    struct test_run r;
    const char *argv[] = {"batch", m, "-q", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 1, "%s", r.err);
    cr_expect(strstr(r.err, "gate failed: job tl3m-Q2_K-rtn.gguf: kld_mean = ") &&
              strstr(r.err, "allowed <= 1e-06 (gate 'kld_mean <= 0.000001')"), "%s", r.err);
    char md[4400];
    snprintf(md, sizeof md, "%s/out/report.md", dir);
    size_t n;
    char *text = (char *)test_read_file(md, &n);
    cr_expect(text && strstr(text, "✘") && strstr(text, "### Failed gates"), "%s", text ? text : "(no report.md)");
    free(text);
}

Test(batch_cli, broken_manifest_exits_2_with_line_column_and_key)
{
    const char *dir = test_tmp_dir();
    const char *m = write_manifest(dir, "out", "  - method: rtn\n    type: [Q8_0]\n    dmap: 0.1\n", "  - kld_mean <= 1\n");
    struct test_run r;
    const char *argv[] = {"batch", m, NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "out.yaml:12:5: key 'dmap': unknown key in jobs[]"), "%s", r.err);
    const char *argv2[] = {"batch", m, "--shard", "2/2", NULL};
    test_run_ingot(&r, argv2);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "--shard '2/2'"), "%s", r.err);
    /* a source that does not exist: refused before any work, at its line */
    char path[4300], text[1024];
    snprintf(path, sizeof path, "%s/nosrc.yaml", dir);
    snprintf(text, sizeof text, "sources:\n  - path: %s/missing-model\nevaluation: {text: %s}\n"
             "jobs: [{method: rtn, types: [Q8_0]}]\noutput: {dir: %s/o2}\n", dir, m, dir);
    cr_assert_eq(test_write_file(path, text, strlen(text)), 0);
    const char *argv3[] = {"batch", path, NULL};
    test_run_ingot(&r, argv3);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "nosrc.yaml:2:11: key 'sources[].path'") && strstr(r.err, "No such file"), "%s", r.err);
    /* a type convert does not know: refused before any work, at its job entry */
    const char *m5 = write_manifest(dir, "badtype", "  - method: rtn\n    types: [Q8_0, Q9_9]\n", "  - kld_mean <= 1\n");
    const char *argv5[] = {"batch", m5, NULL};
    test_run_ingot(&r, argv5);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "badtype.yaml:10:5: key 'jobs[].types': 'Q9_9' is not a type"), "%s", r.err);
    /* a merge that lacks a shard */
    snprintf(path, sizeof path, "%s/o3", dir);
    const char *argv4[] = {"batch", "--merge", path, NULL};
    test_run_ingot(&r, argv4);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "no report.shard-*-of-*.json"), "%s", r.err);
}

/* ---- resume --------------------------------------------------------------------------------- */

/* Start build/ingot with argv, quiet, in the background. */
static pid_t start_ingot(const char *const *argv)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        char *full[16];
        int n = 0;
        full[n++] = (char *)getenv("INGOT_BIN");
        for (; argv[n - 1]; n++)
            full[n] = (char *)argv[n - 1];
        full[n] = NULL;
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execv(full[0], full);
        _exit(127);
    }
    return pid;
}

Test(batch_cli, kill_9_then_rerun_gives_identical_files_and_converts_no_finished_job_twice, .timeout = 600)
{
    const char *dir = test_tmp_dir();
    const char *jobs = "  - method: rtn\n    types: [Q8_0, Q6_K, Q4_K_M, Q4_0, Q2_K]\n";
    const char *ref = write_manifest(dir, "ref", jobs, "  - kld_mean <= 1\n");
    const char *m = write_manifest(dir, "run", jobs, "  - kld_mean <= 1\n");
    struct test_run r;
    const char *argv_ref[] = {"batch", ref, "-q", NULL};
    test_run_ingot(&r, argv_ref);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);

    unsigned seed = 20261206;
    srand(seed);
    const char *argv[] = {"batch", m, "-q", NULL};
    for (int k = 0; k < 6; k++) {
        pid_t pid = start_ingot(argv);
        int delay_ms = 150 + rand() % 1500;
        usleep((useconds_t)delay_ms * 1000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
    }
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "seed %u: %s", seed, r.err);
    const char *types[] = {"Q8_0", "Q6_K", "Q4_K_M", "Q4_0", "Q2_K"};
    for (int i = 0; i < 5; i++) {
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/ref/tl3m-%s-rtn.gguf", dir, types[i]);
        snprintf(b, sizeof b, "%s/run/tl3m-%s-rtn.gguf", dir, types[i]);
        cr_expect(files_equal(a, b), "seed %u: %s differs from the uninterrupted run's", seed, b);
    }
    /* events.log: "convert FILE FP" when a child starts, "done FILE FP" when recorded */
    char log[4400];
    snprintf(log, sizeof log, "%s/run/.ingot-batch/events.log", dir);
    size_t n;
    char *text = (char *)test_read_file(log, &n);
    cr_assert_not_null(text);
    int n_convert = 0;
    for (int i = 0; i < 5; i++) {
        char name[64], done[96], conv[96];
        snprintf(name, sizeof name, "tl3m-%s-rtn.gguf", types[i]);
        snprintf(done, sizeof done, "done %s ", name);
        snprintf(conv, sizeof conv, "convert %s ", name);
        int n_done = count_lines(text, done);
        n_convert += count_lines(text, conv);
        cr_expect_leq(n_done, 1, "seed %u: %s recorded done %d times", seed, name, n_done);
        const char *first_done = strstr(text, done);
        cr_expect(!first_done || !strstr(first_done, conv), "seed %u: %s converted again after it finished", seed, name);
    }
    cr_log_info("kill test: 6 kills, %d conversions started for 5 jobs", n_convert);
    free(text);
    /* the report's figures and verdicts do not depend on the interruptions either */
    char ref_dir[4300], run_dir[4300];
    snprintf(ref_dir, sizeof ref_dir, "%s/ref", dir);
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    json_t *a = load_json(ref_dir, "report.json"), *b = load_json(run_dir, "report.json");
    json_t *ja = json_object_get(a, "jobs"), *jb = json_object_get(b, "jobs");
    cr_assert_eq(json_array_size(ja), 5);
    cr_assert_eq(json_array_size(jb), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *x = json_array_get(ja, i), *y = json_array_get(jb, i);
        json_object_del(json_object_get(x, "figures"), "file");
        json_object_del(json_object_get(y, "figures"), "file");
        cr_expect(json_equal(json_object_get(x, "figures"), json_object_get(y, "figures")), "seed %u: job %zu", seed, i);
        cr_expect(json_equal(json_object_get(x, "gates"), json_object_get(y, "gates")), "seed %u: job %zu", seed, i);
        cr_expect(json_equal(json_object_get(x, "fingerprint"), json_object_get(y, "fingerprint")));
    }
    json_decref(a);
    json_decref(b);
}

Test(batch_cli, changing_one_job_redoes_that_job_alone, .timeout = 300)
{
    const char *dir = test_tmp_dir();
    const char *m = write_manifest(dir, "out", small_jobs, "  - kld_mean <= 1\n");
    struct test_run r;
    const char *argv[] = {"batch", m, "--json", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char changed[1024];
    snprintf(changed, sizeof changed, "%s", "  - method: rtn\n    types: [Q8_0, Q4_0]\n  - method: rtn\n    types: [Q2_K]\n"
                                            "    pure: true\n");
    write_manifest(dir, "out", changed, "  - kld_mean <= 1\n");
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\",\"job\":\"tl3m-Q2_K-rtn.gguf\""), 1, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\""), 1, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"skip\""), 2, "%s", r.out);
}

/* ---- shards --------------------------------------------------------------------------------- */

Test(batch_cli, two_shards_merged_equal_the_unsharded_run, .timeout = 600)
{
    const char *dir = test_tmp_dir();
    const char *whole = write_manifest(dir, "whole", small_jobs, "  - kld_mean <= 1\n");
    const char *split = write_manifest(dir, "split", small_jobs, "  - kld_mean <= 1\n");
    struct test_run r;
    const char *a0[] = {"batch", whole, "-q", NULL};
    test_run_ingot(&r, a0);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a1[] = {"batch", split, "-q", "--shard", "0/2", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    /* the second shard from Slurm's job-array variables */
    setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    setenv("SLURM_ARRAY_TASK_COUNT", "2", 1);
    const char *a2[] = {"batch", split, "-q", NULL};
    test_run_ingot(&r, a2);
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("SLURM_ARRAY_TASK_COUNT");
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char out_whole[4300], out_split[4300];
    snprintf(out_whole, sizeof out_whole, "%s/whole", dir);
    snprintf(out_split, sizeof out_split, "%s/split", dir);
    /* shards sharing an output folder run at once: each verifies into its own JSON and log, never
     * one another's (a shared verify-tl3m.json let one shard read or delete the other's) */
    for (int k = 0; k < 2; k++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/.ingot-batch/shard-%d-of-2.verify-tl3m.json", out_split, k);
        json_error_t err;
        json_t *v = json_load_file(path, 0, &err);
        cr_assert_not_null(v, "shard %d's own verify JSON: %s", k, err.text);
        cr_expect_gt(json_array_size(json_object_get(v, "containers")), 0, "shard %d", k);
        json_decref(v);
        snprintf(path, sizeof path, "%s/.ingot-batch/shard-%d-of-2.verify-tl3m.log", out_split, k);
        cr_expect_eq(access(path, F_OK), 0, "%s", path);
    }
    snprintf(out_split, sizeof out_split, "%s/split/.ingot-batch/verify-tl3m.json", dir);
    cr_expect_neq(access(out_split, F_OK), 0, "no verify JSON shared by the shards");
    snprintf(out_split, sizeof out_split, "%s/split", dir);
    const char *am[] = {"batch", "--merge", out_split, "-q", NULL};
    test_run_ingot(&r, am);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    json_t *w = load_json(out_whole, "report.json"), *s = load_json(out_split, "report.json");
    json_t *wj = json_object_get(w, "jobs"), *sj = json_object_get(s, "jobs");
    cr_assert_eq(json_array_size(wj), 3);
    cr_assert_eq(json_array_size(sj), 3, "the merge holds every job");
    static const char *const figures[] = {"ppl", "ppl_ratio", "kld_mean", "kld_p99", "same_top_pct", "bytes",
                                          "bits_per_weight"};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(wj, i), *y = json_array_get(sj, i);
        cr_expect_str_eq(json_string_value(json_object_get(x, "job")), json_string_value(json_object_get(y, "job")));
        cr_expect(json_equal(json_object_get(x, "fingerprint"), json_object_get(y, "fingerprint")));
        for (size_t f = 0; f < sizeof figures / sizeof figures[0]; f++)
            cr_expect(json_equal(json_object_get(json_object_get(x, "figures"), figures[f]),
                                 json_object_get(json_object_get(y, "figures"), figures[f])),
                      "job %zu: %s differs", i, figures[f]);
        cr_expect(json_equal(json_object_get(x, "pareto"), json_object_get(y, "pareto")));
        cr_expect(json_equal(json_object_get(x, "gates"), json_object_get(y, "gates")));
    }
    json_decref(w);
    json_decref(s);
}

Test(batch_cli, calibrated_job_carries_its_per_layer_errors_into_the_report, .timeout = 300)
{
    const char *dir = test_tmp_dir(), *root = getenv("INGOT_ROOT");
    char jobs[2048];
    snprintf(jobs, sizeof jobs, "  - method: gptq\n    types: [Q4_0]\n    damp: 0.02\n");
    const char *m = write_manifest(dir, "out", jobs, "  - kld_mean <= 1\n");
    /* add the calibration section the gptq job needs */
    size_t n;
    char *text = (char *)test_read_file(m, &n), full[8192];
    snprintf(full, sizeof full, "calibration:\n  text: %s/examples/tl3m/calib.txt\n  samples: 4\n  seq-len: 32\n%s",
             root, text);
    free(text);
    cr_assert_eq(test_write_file(m, full, strlen(full)), 0);
    struct test_run r;
    const char *argv[] = {"batch", m, "-q", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    char out[4300];
    snprintf(out, sizeof out, "%s/out", dir);
    json_t *rep = load_json(out, "report.json");
    json_t *job = json_array_get(json_object_get(rep, "jobs"), 0);
    cr_expect_str_eq(json_string_value(json_object_get(job, "method")), "gptq");
    cr_expect_gt(json_array_size(json_object_get(job, "layers")), 0, "convert's per-layer report is kept");
    json_decref(rep);
    char html[4400];
    snprintf(html, sizeof html, "%s/report.html", out);
    text = (char *)test_read_file(html, &n);
    cr_assert_not_null(text);
    cr_expect(strstr(text, "aria-label='per-layer error heatmap'") && strstr(text, "<title>blk.0.attn_q.weight: "),
              "the heatmap has a cell per tensor");
    free(text);
}

/* ---- shared steps --------------------------------------------------------------------------- */

/* Put a calibration section of samples x seq_len windows (seed 0) in front of manifest m. */
static void add_calibration(const char *m, int samples, int seq_len)
{
    size_t n;
    char *text = (char *)test_read_file(m, &n), full[8192];
    cr_assert_not_null(text);
    snprintf(full, sizeof full, "calibration:\n  text: %s/examples/tl3m/calib.txt\n  samples: %d\n  seq-len: %d\n%s",
             getenv("INGOT_ROOT"), samples, seq_len, text);
    free(text);
    cr_assert_eq(test_write_file(m, full, strlen(full)), 0);
}

static const char calibrated_rtn_jobs[] = "  - method: rtn\n    types: [Q4_K_M, Q4_0, Q2_K]\n    calibrate: true\n";

/* How many lines of the batch's events.log start with prefix. */
static int count_events(const char *out_dir, const char *prefix)
{
    char log[4400];
    snprintf(log, sizeof log, "%s/.ingot-batch/events.log", out_dir);
    size_t n;
    char *text = (char *)test_read_file(log, &n);
    int k = text ? count_lines(text, prefix) : 0;
    free(text);
    return k;
}

/* The importance matrix of rtn jobs with calibrate: true is computed once for all three
 * types, and each file is byte for byte what a separate `ingot convert --method rtn --calib`
 * (which computes its own) writes. */
Test(batch_cli, calibrated_rtn_jobs_share_one_imatrix_and_equal_separate_converts, .timeout = 300)
{
    const char *dir = test_tmp_dir();
    const char *m = write_manifest(dir, "out", calibrated_rtn_jobs, "  - kld_mean <= 1\n");
    add_calibration(m, 8, 64);
    struct test_run r;
    const char *argv[] = {"batch", m, "--jobs", "2", "--json", NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"shared\","), 1, "one imatrix step: %s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"shared_done\","), 1, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\""), 3, "%s", r.out);
    char out[4300];
    snprintf(out, sizeof out, "%s/out", dir);
    cr_expect_eq(count_events(out, "imatrix "), 1, "events.log records one imatrix computation");

    json_t *rep = load_json(out, "report.json"), *jobs = json_object_get(rep, "jobs");
    cr_assert_eq(json_array_size(jobs), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *job = json_array_get(jobs, i), *args = json_object_get(job, "args");
        json_t *shares = json_object_get(job, "shares");
        cr_expect_str_eq(json_string_value(json_object_get(shares, "step")), "imatrix");
        cr_expect_eq(json_integer_value(json_object_get(shares, "jobs")), 3);
        cr_expect_gt(json_array_size(json_object_get(job, "layers")), 0, "the per-layer report is kept");
        /* the same job on its own: convert with the job's own arguments, computing its imatrix */
        const char *cv[BATCH_TEST_MAX_ARGS];
        char sep[4400];
        int n = 0;
        snprintf(sep, sizeof sep, "%s/sep-%zu.gguf", dir, i);
        cv[n++] = "convert";
        cv[n++] = json_string_value(json_object_get(json_array_get(json_object_get(rep, "models"), 0), "path"));
        cv[n++] = "-o";
        cv[n++] = sep;
        for (size_t k = 0; k < json_array_size(args) && n < BATCH_TEST_MAX_ARGS - 2; k++)
            cv[n++] = json_string_value(json_array_get(args, k));
        cv[n++] = "-q";
        cv[n] = NULL;
        struct test_run rc;
        test_run_ingot(&rc, cv);
        cr_assert_eq(rc.exit_code, 0, "%s", rc.err);
        cr_expect(files_equal(sep, json_string_value(json_object_get(job, "output"))),
                  "%s differs from a separate `ingot convert` of the same job",
                  json_string_value(json_object_get(job, "job")));
    }
    json_decref(rep);

    /* a deleted output is redone with the kept imatrix: its step is up to date, not recomputed */
    char q4[4400], keep[4400];
    snprintf(q4, sizeof q4, "%s/tl3m-Q4_0-rtn.gguf", out);
    snprintf(keep, sizeof keep, "%s/sep-1.gguf", dir);
    cr_assert_eq(unlink(q4), 0);
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"shared\","), 0, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"shared_skip\","), 1, "%s", r.out);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"start\""), 1, "%s", r.out);
    cr_expect(files_equal(q4, keep), "the redone file equals a separate convert's");
    /* nothing left to convert: the step is not even looked at */
    test_run_ingot(&r, argv);
    cr_expect_eq(count_lines(r.out, "{\"event\":\"shared"), 0, "%s", r.out);
    cr_expect_eq(count_events(out, "imatrix "), 1);
}

/* Poll out/.ingot-batch/events.log until a line starts with prefix (at most 60 s). */
static bool wait_event(const char *out_dir, const char *prefix)
{
    for (int i = 0; i < 12000; i++) {
        if (count_events(out_dir, prefix) > 0)
            return true;
        usleep(5000);
    }
    return false;
}

/* kill -9 while the shared imatrix is computed, and again after it finished (while the jobs
 * convert), then a rerun: files byte-identical to an uninterrupted run, and the imatrix not
 * computed again once it had finished. */
Test(batch_cli, kill_9_during_the_shared_imatrix_then_rerun_gives_identical_files, .timeout = 600)
{
    const char *dir = test_tmp_dir();
    const char *ref = write_manifest(dir, "ref", calibrated_rtn_jobs, "  - kld_mean <= 1\n");
    const char *m = write_manifest(dir, "run", calibrated_rtn_jobs, "  - kld_mean <= 1\n");
    add_calibration(ref, 32, 128);
    add_calibration(m, 32, 128);
    struct test_run r;
    const char *argv_ref[] = {"batch", ref, "-q", NULL};
    test_run_ingot(&r, argv_ref);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);

    char out[4300];
    snprintf(out, sizeof out, "%s/run", dir);
    const char *argv[] = {"batch", m, "-q", NULL};
    int status;
    pid_t pid = start_ingot(argv);   /* 1: during the imatrix step */
    cr_assert(wait_event(out, "imatrix "), "the shared step never started");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    cr_assert_eq(count_events(out, "imatrix-done "), 0, "the kill came after the step finished: retime the test");
    unsigned seed = 20261206;
    srand(seed);
    pid = start_ingot(argv);   /* 2: after it, while the jobs convert */
    cr_assert(wait_event(out, "imatrix-done "), "the shared step never finished");
    cr_assert(wait_event(out, "convert "));
    usleep((useconds_t)(rand() % 800) * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "seed %u: %s", seed, r.err);

    const char *types[] = {"Q4_K_M", "Q4_0", "Q2_K"};
    for (int i = 0; i < 3; i++) {
        char a[4400], b[4400];
        snprintf(a, sizeof a, "%s/ref/tl3m-%s-rtn.gguf", dir, types[i]);
        snprintf(b, sizeof b, "%s/run/tl3m-%s-rtn.gguf", dir, types[i]);
        cr_expect(files_equal(a, b), "seed %u: %s differs from the uninterrupted run's", seed, b);
    }
    char log[4400];
    snprintf(log, sizeof log, "%s/.ingot-batch/events.log", out);
    size_t n;
    char *text = (char *)test_read_file(log, &n);
    cr_assert_not_null(text);
    cr_expect_eq(count_lines(text, "imatrix "), 2, "started twice (killed once): %s", text);
    cr_expect_eq(count_lines(text, "imatrix-done "), 1, "%s", text);
    const char *done = strstr(text, "imatrix-done ");
    cr_expect(done && !strstr(done, "\nimatrix "), "seed %u: computed again after it finished: %s", seed, text);
    for (int i = 0; i < 3; i++) {
        char name[96];
        snprintf(name, sizeof name, "done tl3m-%s-rtn.gguf ", types[i]);
        cr_expect_leq(count_lines(text, name), 1, "seed %u: %s", seed, name);
    }
    free(text);
}

/* convert --calib-imatrix takes only an importance matrix of the windows it calibrates on. */
Test(batch_cli, calib_imatrix_of_other_windows_is_refused, .timeout = 120)
{
    const char *dir = test_tmp_dir(), *root = getenv("INGOT_ROOT");
    char src[4300], calib[4300], im[4300], out[4300];
    snprintf(src, sizeof src, "%s/examples/tl3m", root);
    snprintf(calib, sizeof calib, "%s/examples/tl3m/calib.txt", root);
    snprintf(im, sizeof im, "%s/im.gguf", dir);
    snprintf(out, sizeof out, "%s/o.gguf", dir);
    struct test_run r;
    const char *a1[] = {"imatrix", src, "--calib", calib, "--samples", "4", "--ctx", "32", "-o", im, "-q", NULL};
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    const char *a2[] = {"convert", src, "-o", out, "--type", "Q4_0", "--method", "rtn", "--calib", calib, "--samples",
                        "8", "--seq-len", "32", "--calib-imatrix", im, "-q", NULL};
    test_run_ingot(&r, a2);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "--calib-imatrix") && strstr(r.err, "computed over 4 windows of 32 tokens") &&
              strstr(r.err, "calibrates on 8 windows of 32 tokens"), "%s", r.err);
    cr_expect_neq(access(out, F_OK), 0, "nothing is written at OUT");
    const char *a3[] = {"convert", src, "-o", out, "--type", "Q4_0", "--calib-imatrix", im, NULL};
    test_run_ingot(&r, a3);
    cr_expect_eq(r.exit_code, 2);
    cr_expect(strstr(r.err, "--calib-imatrix goes with --method rtn --calib"), "%s", r.err);
}
