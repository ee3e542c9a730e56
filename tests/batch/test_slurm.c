/* test_slurm.c — a 4-task Slurm job array of a small manifest on a real one-node Slurm
 * (tests/batch/slurm_array.sh starts munged, slurmctld and slurmd in a temporary folder and
 * stops them by PID), then `ingot batch --merge`; and the manifests the README and
 * examples/ ship parse. The Slurm test skips, saying why, where slurm-wlm and munge cannot
 * be installed.
 */
#include "../test_util.h"

#include "batch/manifest.h"
#include "common/ig_error.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

Test(batch_slurm, four_task_job_array_then_merge, .timeout = 900)
{
    const char *root = getenv("INGOT_ROOT"), *bin = getenv("INGOT_BIN");
    cr_assert(root && bin, "INGOT_ROOT and INGOT_BIN must be set");
    const char *dir = test_tmp_dir();
    char manifest[4300], text[8192], cmd[16384];
    snprintf(manifest, sizeof manifest, "%s/m.yaml", dir);
    snprintf(text, sizeof text,
             "sources: [{name: tl3m, path: %s/examples/tl3m}]\n"
             "evaluation: {text: %s/examples/tl3m/eval.txt, ctx: 128, chunks: 4}\n"
             "jobs:\n  - {method: rtn, types: [Q8_0, Q6_K, Q4_0, Q2_K]}\n"
             "output: {dir: %s/out}\ngates: ['kld_mean <= 1']\n",
             root, root, dir);
    cr_assert_eq(test_write_file(manifest, text, strlen(text)), 0);
    snprintf(cmd, sizeof cmd, "%s/tests/batch/slurm_array.sh %s %s %s/out %s 2>&1", root, bin, manifest, dir, dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (code == 77)
        cr_skip_test("%s", out);
    cr_assert_eq(code, 0, "%s", out);
    char report[4400];
    snprintf(report, sizeof report, "%s/out/report.json", dir);
    json_t *r = json_load_file(report, 0, NULL);
    cr_assert_not_null(r, "%s", out);
    cr_expect_eq(json_array_size(json_object_get(r, "jobs")), 4, "the merge holds the 4 tasks' jobs");
    cr_expect_eq(json_integer_value(json_object_get(r, "merged_shards")), 4);
    json_decref(r);
}

/* The first ```yaml block after the heading in README.md, written to a file and read. */
Test(batch_manifest, the_readme_example_and_the_shipped_manifests_parse)
{
    const char *root = getenv("INGOT_ROOT");
    cr_assert_not_null(root);
    char path[4300];
    size_t n;
    snprintf(path, sizeof path, "%s/README.md", root);
    char *readme = (char *)test_read_file(path, &n);
    cr_assert_not_null(readme);
    const char *sec = strstr(readme, "## Batch manifests");
    cr_assert_not_null(sec, "README.md has no 'Batch manifests' section");
    const char *start = strstr(sec, "```yaml\n"), *end = start ? strstr(start + 8, "```") : NULL;
    cr_assert(start && end);
    snprintf(path, sizeof path, "%s/readme.yaml", test_tmp_dir());
    cr_assert_eq(test_write_file(path, start + 8, (size_t)(end - start - 8)), 0);
    struct batch_manifest *m = malloc(sizeof *m);
    cr_expect_eq(batch_manifest_read(m, path), 0, "README example: %s", ig_error_message());
    cr_expect_eq(m->n_specs, 4);
    cr_expect(m->specs[3].calibrate, "the README's rtn-imatrix entry reads calibrate: true");
    cr_expect_eq(m->n_gates, 5);
    const char *shipped[] = {"examples/demo.yaml", "examples/tl3m.yaml"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", root, shipped[i]);
        cr_expect_eq(batch_manifest_read(m, path), 0, "%s: %s", shipped[i], ig_error_message());
    }
    free(m);
    free(readme);
}
