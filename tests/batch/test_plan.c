/* test_plan.c — job planning: fingerprints that change for the job whose parameters changed
 * and no other, a deterministic cost-balanced shard split, duplicate file names refused,
 * the envelope and Pareto marks over figures, and the resume state file.
 */
#include "../test_util.h"

#include "batch/gates.h"
#include "batch/manifest.h"
#include "batch/plan.h"
#include "batch/state.h"
#include "common/ig_error.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

/* A manifest over a fake source folder (the plan hashes files; it never parses them). */
static struct batch_manifest *manifest(const char *jobs, char *dir_out)
{
    const char *dir = test_tmp_dir();
    char path[4200], text[4096];
    snprintf(path, sizeof path, "%s/src", dir);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/src/model.safetensors", dir);
    cr_assert_eq(test_write_file(path, "weights", 7), 0);
    snprintf(path, sizeof path, "%s/calib.txt", dir);
    cr_assert_eq(test_write_file(path, "calibration text", 16), 0);
    snprintf(text, sizeof text,
             "sources: [{name: m, path: src}]\ncalibration: {text: calib.txt, samples: 8, seq-len: 32}\n"
             "evaluation: {text: calib.txt}\njobs:\n%soutput: {dir: out}\n", jobs);
    snprintf(path, sizeof path, "%s/m.yaml", dir);
    cr_assert_eq(test_write_file(path, text, strlen(text)), 0);
    struct batch_manifest *m = malloc(sizeof *m);
    cr_assert_eq(batch_manifest_read(m, path), 0, "%s", ig_error_message());
    if (dir_out)
        snprintf(dir_out, 4200, "%s", dir);
    return m;
}

static const char jobs_a[] = "  - {method: rtn, types: [Q8_0, Q4_0, Q4_K_M, Q2_K]}\n"
                             "  - {method: gptq, types: [Q4_K_M, Q3_K_M], damp: 0.01}\n";

Test(batch_plan, changing_one_job_changes_its_fingerprint_alone)
{
    struct batch_manifest *m = manifest(jobs_a, NULL);
    struct batch_plan a, b;
    cr_assert_eq(batch_plan_create(&a, m, "0.1.0", 1), 0, "%s", ig_error_message());
    cr_assert_eq(batch_plan_create(&b, m, "0.1.0", 1), 0);
    cr_assert_eq(a.n_jobs, 6);
    for (int i = 0; i < a.n_jobs; i++)
        cr_expect_eq(a.jobs[i].fingerprint, b.jobs[i].fingerprint, "the fingerprint is a function of the inputs");
    batch_plan_destroy(&b);
    m->specs[1].damp = 0.02;   /* both gptq jobs change; the rtn ones do not */
    cr_assert_eq(batch_plan_create(&b, m, "0.1.0", 1), 0);
    for (int i = 0; i < a.n_jobs; i++)
        cr_expect_eq(a.jobs[i].fingerprint != b.jobs[i].fingerprint, i >= 4, "job %d (%s)", i, a.jobs[i].file);
    batch_plan_destroy(&b);
    cr_assert_eq(batch_plan_create(&b, m, "0.2.0", 1), 0);
    for (int i = 0; i < a.n_jobs; i++)
        cr_expect_neq(a.jobs[i].fingerprint, b.jobs[i].fingerprint, "ingot's version is in every fingerprint");
    batch_plan_destroy(&a);
    batch_plan_destroy(&b);
    free(m);
}

Test(batch_plan, source_and_calibration_bytes_are_in_the_fingerprint)
{
    char dir[4200], path[4300];
    struct batch_manifest *m = manifest(jobs_a, dir);
    struct batch_plan a, b;
    cr_assert_eq(batch_plan_create(&a, m, "0.1.0", 1), 0);
    snprintf(path, sizeof path, "%s/calib.txt", dir);
    cr_assert_eq(test_write_file(path, "calibration texT", 16), 0);
    cr_assert_eq(batch_plan_create(&b, m, "0.1.0", 1), 0);
    for (int i = 0; i < a.n_jobs; i++)
        cr_expect_eq(a.jobs[i].fingerprint != b.jobs[i].fingerprint, i >= 4, "calibration changes gptq jobs: %d", i);
    batch_plan_destroy(&b);
    snprintf(path, sizeof path, "%s/src/model.safetensors", dir);
    cr_assert_eq(test_write_file(path, "weightS", 7), 0);
    cr_assert_eq(batch_plan_create(&b, m, "0.1.0", 1), 0);
    for (int i = 0; i < 4; i++)
        cr_expect_neq(a.jobs[i].fingerprint, b.jobs[i].fingerprint, "one flipped source byte changes job %d", i);
    batch_plan_destroy(&a);
    batch_plan_destroy(&b);
    free(m);
}

/* rtn jobs with calibrate: true take one importance matrix per (source, windows); gptq and
 * plain rtn jobs take none. The step's fingerprint is the xxh3-64 of the text plan.c
 * documents, and it is in each dependent job's fingerprint. */
Test(batch_plan, calibrated_rtn_jobs_share_one_imatrix_step_per_window_setting)
{
    char dir[4200], path[4300];
    struct batch_manifest *m = manifest("  - {method: rtn, types: [Q8_0, Q4_0, Q2_K], calibrate: true}\n"
                                        "  - {method: rtn, types: [Q5_0], calibrate: true, seed: 5}\n"
                                        "  - {methods: [rtn, gptq], types: [Q6_K]}\n",
                                        dir);
    struct batch_plan a, b;
    cr_assert_eq(batch_plan_create(&a, m, "0.1.0", 1), 0, "%s", ig_error_message());
    cr_assert_eq(a.n_jobs, 6);
    cr_assert_eq(a.n_shared, 2);
    static const int want[6] = {0, 0, 0, 1, -1, -1};
    for (int i = 0; i < 6; i++)
        cr_expect_eq(a.jobs[i].shared, want[i], "job %d (%s)", i, a.jobs[i].file);
    cr_expect_eq(a.shared[0].n_jobs, 3);
    cr_expect_eq(a.shared[1].n_jobs, 1);
    cr_expect(a.shared[0].samples == 8 && a.shared[0].seq_len == 32 && a.shared[0].seed == 0);
    cr_expect_eq(a.shared[1].seed, 5);
    char text[512];
    snprintf(text, sizeof text,
             "ingot-batch-shared 1\nstep imatrix\nversion 0.1.0\nsource %016llx\ncalib %016llx\nsamples 8\n"
             "seq-len 32\nseed 0\n",
             (unsigned long long)a.source_hash[0], (unsigned long long)a.calib_hash);
    cr_expect_eq(a.shared[0].fingerprint, XXH3_64bits(text, strlen(text)), "the step's fingerprint is its text's");
    char name[64];
    snprintf(name, sizeof name, "imatrix-m-%s.gguf", a.shared[0].fingerprint_hex);
    cr_expect_str_eq(a.shared[0].file, name);
    bool has_calib = false;
    for (int k = 0; k < a.jobs[1].n_args; k++)
        has_calib |= strcmp(a.jobs[1].args[k], "--calib") == 0;
    cr_expect(has_calib, "a calibrated rtn job converts with --calib");
    /* another seed for the second entry: its step and job change, nothing else */
    m->specs[1].seed = 6;
    cr_assert_eq(batch_plan_create(&b, m, "0.1.0", 1), 0);
    cr_expect_eq(a.shared[0].fingerprint, b.shared[0].fingerprint);
    cr_expect_neq(a.shared[1].fingerprint, b.shared[1].fingerprint);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(a.jobs[i].fingerprint != b.jobs[i].fingerprint, i == 3, "job %d", i);
    batch_plan_destroy(&b);
    /* other calibration bytes: both steps and every calibrated job change, the plain rtn job does not */
    snprintf(path, sizeof path, "%s/calib.txt", dir);
    cr_assert_eq(test_write_file(path, "calibration texT", 16), 0);
    cr_assert_eq(batch_plan_create(&b, m, "0.1.0", 1), 0);
    cr_expect_neq(a.shared[0].fingerprint, b.shared[0].fingerprint);
    for (int i = 0; i < 6; i++)
        cr_expect_eq(a.jobs[i].fingerprint != b.jobs[i].fingerprint, i != 4, "job %d", i);
    batch_plan_destroy(&a);
    batch_plan_destroy(&b);
    free(m);
}

Test(batch_plan, shards_partition_the_jobs_by_cost)
{
    struct batch_manifest *m = manifest(jobs_a, NULL);
    for (int n = 1; n <= 7; n++) {
        struct batch_plan p, q;
        cr_assert_eq(batch_plan_create(&p, m, "0.1.0", n), 0);
        cr_assert_eq(batch_plan_create(&q, m, "0.1.0", n), 0);
        double load[8] = {0}, max_cost = 0;
        for (int i = 0; i < p.n_jobs; i++) {
            cr_expect(p.jobs[i].shard >= 0 && p.jobs[i].shard < n);
            cr_expect_eq(p.jobs[i].shard, q.jobs[i].shard, "the split is deterministic (%d shards)", n);
            load[p.jobs[i].shard] += p.jobs[i].cost;
            max_cost = fmax(max_cost, p.jobs[i].cost);
        }
        double lo = INFINITY, hi = 0;
        for (int s = 0; s < n; s++)
            lo = fmin(lo, load[s]), hi = fmax(hi, load[s]);
        /* greedy LPT: no shard exceeds another by more than the largest job */
        cr_expect(n > p.n_jobs || hi - lo <= max_cost, "%d shards: loads %g..%g, largest job %g", n, lo, hi, max_cost);
        batch_plan_destroy(&p);
        batch_plan_destroy(&q);
    }
    int i, count;
    cr_expect_eq(batch_shard_parse("1/4", &i, &count), 0);
    cr_expect(i == 1 && count == 4);
    cr_expect_eq(batch_shard_parse("4/4", &i, &count), IG_EINVAL);
    cr_expect_eq(batch_shard_parse("1-4", &i, &count), IG_EINVAL);
    free(m);
}

Test(batch_plan, refuses_two_jobs_writing_one_file)
{
    struct batch_manifest *m = manifest("  - {method: rtn, types: [Q8_0]}\n  - {method: rtn, types: [Q8_0]}\n", NULL);
    struct batch_plan p;
    cr_expect_eq(batch_plan_create(&p, m, "0.1.0", 1), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "'m-Q8_0-rtn.gguf'") && strstr(ig_error_message(), "output.name"), "%s",
              ig_error_message());
    batch_plan_destroy(&p);
    free(m);
}

/* ---- gates over figures --------------------------------------------------------------------- */

static json_t *job(const char *model, double bpw, double kld)
{
    return json_pack("{s:s, s:{s:f, s:f}}", "model", model, "figures", "bits_per_weight", bpw, "kld_mean", kld);
}

Test(batch_gates, marks_the_frontier_and_the_viable_set)
{
    json_t *jobs = json_array();
    json_array_append_new(jobs, job("a", 8.5, 0.00002));
    json_array_append_new(jobs, job("a", 4.9, 0.0025));
    json_array_append_new(jobs, job("a", 4.9, 0.0015));   /* dominates the one above */
    json_array_append_new(jobs, job("a", 5.5, 0.0030));   /* dominated */
    json_array_append_new(jobs, job("b", 5.5, 0.0030));   /* another model: its own frontier */
    struct batch_gate env[2];
    cr_assert_eq(batch_gate_parse(&env[0], "bpw <= 5"), 0);
    cr_assert_eq(batch_gate_parse(&env[1], "kld_mean <= 0.002"), 0);
    batch_jobs_mark(jobs, env, 2);
    const bool pareto[] = {true, false, true, false, true}, viable[] = {false, false, true, false, false};
    for (size_t i = 0; i < 5; i++) {
        cr_expect_eq(json_is_true(json_object_get(json_array_get(jobs, i), "pareto")), pareto[i], "pareto %zu", i);
        cr_expect_eq(json_is_true(json_object_get(json_array_get(jobs, i), "viable")), viable[i], "viable %zu", i);
    }
    json_decref(jobs);
}

Test(batch_gates, unless_not_real_passes_when_the_ci_holds_zero)
{
    struct batch_gate g[2];
    cr_assert_eq(batch_gate_parse(&g[0], "delta_acc >= -1 unless not real"), 0);
    cr_assert_eq(batch_gate_parse(&g[1], "kld_mean <= 0.001"), 0);
    json_t *j = json_pack("{s:{s:f, s:[f, f], s:f}}", "figures", "delta_acc", -1.5, "delta_acc_ci", -3.0, 0.2,
                          "kld_mean", 0.002);
    cr_expect_eq(batch_job_apply_gates(j, g, 2), 1, "the KLD gate fails, the Δacc one holds");
    json_t *r = json_object_get(j, "gates");
    cr_expect(json_is_true(json_object_get(json_array_get(r, 0), "pass")));
    cr_expect(strstr(json_string_value(json_object_get(json_array_get(r, 0), "note")), "CI holds 0"));
    cr_expect(json_is_false(json_object_get(json_array_get(r, 1), "pass")));
    json_object_set_new(json_object_get(j, "figures"), "delta_acc_ci", json_pack("[f, f]", -3.0, -0.2));
    cr_expect_eq(batch_job_apply_gates(j, g, 1), 1, "a real drop of 1.5 points fails");
    json_object_del(json_object_get(j, "figures"), "kld_mean");
    cr_expect_eq(batch_job_apply_gates(j, g + 1, 1), 1, "a figure not measured fails its gate");
    cr_expect(strstr(json_string_value(json_object_get(json_array_get(json_object_get(j, "gates"), 0), "note")),
                     "not measured"));
    json_decref(j);
}

Test(batch_gates, lifts_the_worst_task_to_the_container_in_points)
{
    json_t *f = json_pack("{s:f, s:{s:{s:f, s:f, s:f, s:f, s:s, s:f}, s:{s:f, s:f, s:f, s:f, s:s, s:f}}}", "kld_mean",
                          0.001, "tasks", "hellaswag", "acc", 0.41, "delta_acc", -0.004, "delta_acc_ci_low", -0.012,
                          "delta_acc_ci_high", 0.004, "verdict", "same", "ece_post_t", 0.02, "piqa", "acc", 0.60,
                          "delta_acc", -0.02, "delta_acc_ci_low", -0.03, "delta_acc_ci_high", -0.01, "verdict",
                          "worse", "ece_post_t", 0.04);
    batch_figures_add_tasks(f);
    cr_expect_str_eq(json_string_value(json_object_get(f, "task")), "piqa", "the task with the lowest Δacc");
    cr_expect_float_eq(batch_figure_get(f, "delta_acc"), -2.0, 1e-9, "points, not a fraction");
    cr_expect_float_eq(json_number_value(json_array_get(json_object_get(f, "delta_acc_ci"), 0)), -3.0, 1e-9);
    cr_expect_float_eq(batch_figure_get(f, "acc"), 60.0, 1e-9);
    cr_expect_float_eq(batch_figure_get(f, "ece_post_t"), 0.04, 1e-12);
    cr_expect_str_eq(json_string_value(json_object_get(f, "verdict")), "worse");
    cr_expect_float_eq(batch_figure_get(f, "tasks.hellaswag.acc"), 0.41, 1e-12, "dotted paths reach every task");
    struct batch_gate g;
    cr_assert_eq(batch_gate_parse(&g, "delta_acc >= -1.0 unless not real"), 0);
    json_t *job = json_pack("{s:O}", "figures", f);
    cr_expect_eq(batch_job_apply_gates(job, &g, 1), 1, "a real 2-point drop fails");
    json_decref(job);
    json_decref(f);
}

Test(batch_plan, the_manifest_path_spelling_does_not_change_fingerprints)
{
    char dir[4200], other[4300];
    struct batch_manifest *m = manifest(jobs_a, dir), *m2 = malloc(sizeof *m2);
    snprintf(other, sizeof other, "%s/./././m.yaml", dir);   /* calib.txt resolves to another string */
    cr_assert_eq(batch_manifest_read(m2, other), 0, "%s", ig_error_message());
    cr_assert_str_neq(m->calib_text, m2->calib_text);
    struct batch_plan a, b;
    cr_assert_eq(batch_plan_create(&a, m, "0.1.0", 1), 0);
    cr_assert_eq(batch_plan_create(&b, m2, "0.1.0", 1), 0);
    for (int i = 0; i < a.n_jobs; i++)
        cr_expect_eq(a.jobs[i].fingerprint, b.jobs[i].fingerprint, "job %d", i);
    batch_plan_destroy(&a);
    batch_plan_destroy(&b);
    free(m);
    free(m2);
}

/* ---- the state file ------------------------------------------------------------------------- */

Test(batch_state, survives_reopening_and_reads_other_shards_files)
{
    const char *dir = test_tmp_dir();
    struct batch_state *a, *b;
    cr_assert_eq(batch_state_open(&a, dir, "ingot-batch.state.0-of-2.json"), 0, "%s", ig_error_message());
    cr_assert_eq(batch_state_put(a, "x.gguf", json_pack("{s:s, s:s}", "fingerprint", "00ff", "status", "done")), 0);
    batch_state_close(a);
    cr_assert_eq(batch_state_open(&b, dir, "ingot-batch.state.json"), 0, "%s", ig_error_message());
    const char *fp = json_string_value(json_object_get(batch_state_get(b, "x.gguf"), "fingerprint"));
    cr_expect(fp && strcmp(fp, "00ff") == 0, "a rerun with another split finds the shard's finished job");
    cr_expect_null(batch_state_get(b, "y.gguf"));
    batch_state_close(b);
    cr_expect_eq(test_count_entries(dir), 1, "no temporary file is left behind");
}

Test(batch_state, refuses_a_damaged_state_file_naming_it)
{
    const char *dir = test_tmp_dir();
    char path[4300];
    snprintf(path, sizeof path, "%s/ingot-batch.state.json", dir);
    cr_assert_eq(test_write_file(path, "{\"jobs\": [", 10), 0);
    struct batch_state *s;
    cr_expect_eq(batch_state_open(&s, dir, "ingot-batch.state.json"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), path) && strstr(ig_error_message(), "delete it to start over"), "%s",
              ig_error_message());
}
