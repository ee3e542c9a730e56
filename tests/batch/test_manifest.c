/* test_manifest.c — batch manifests: the complete example reads as documented, and a
 * catalogue of broken manifests, one fault each, every one refused with IG_EINVAL and a
 * message naming the file, line, column and key.
 */
#include "../test_util.h"

#include "batch/gates.h"
#include "batch/manifest.h"
#include "common/ig_error.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------------------------- */

static const char good[] =
    "version: 1\n"
    "sources:\n"
    "  - name: tl3m\n"
    "    path: model\n"
    "calibration:\n"
    "  text: calib.txt\n"
    "  samples: 16\n"
    "  seq-len: 64\n"
    "  seed: 7\n"
    "evaluation:\n"
    "  text: eval.txt\n"
    "  ctx: 128\n"
    "  chunks: 4\n"
    "jobs:\n"
    "  - method: rtn\n"
    "    types: [Q8_0, Q4_K_M]\n"
    "  - name: g\n"
    "    methods: [gptq, awq]\n"
    "    type: Q4_K_M\n"
    "    damp: 0.05\n"
    "    act-order: true\n"
    "    tensor-type: ['ffn_down=Q6_K']\n"
    "    gates: ['kld_mean <= 0.002']\n"
    "  - method: rtn\n"
    "    types: [I4]\n"
    "    group-size: 128\n"
    "output:\n"
    "  dir: out\n"
    "  name: \"{source}-{type}-{job}.gguf\"\n"
    "gates:\n"
    "  - kld_mean <= 0.01\n"
    "  - bpw <= 4.8\n"
    "envelope:\n"
    "  - size_bytes <= 1000000\n";

/* Write text as <tmp>/m.yaml and read it. */
static int read_text(struct batch_manifest *m, const char *text, char *path, size_t size)
{
    snprintf(path, size, "%s/m.yaml", test_tmp_dir());
    cr_assert_eq(test_write_file(path, text, strlen(text)), 0);
    return batch_manifest_read(m, path);
}

/* ---- the example ---------------------------------------------------------------------------- */

Test(batch_manifest, reads_the_complete_example)
{
    struct batch_manifest *m = malloc(sizeof *m);
    char path[4200], want[4300];
    int rc = read_text(m, good, path, sizeof path);
    cr_assert_eq(rc, 0, "%s", ig_error_message());
    cr_expect_eq(m->n_sources, 1);
    snprintf(want, sizeof want, "%.*s/model", (int)(strrchr(path, '/') - path), path);
    cr_expect_str_eq(m->sources[0].path, want, "paths resolve against the manifest's folder");
    cr_expect_eq(m->calib_samples, 16);
    cr_expect_eq(m->calib_seq_len, 64);
    cr_expect_eq(m->calib_seed, 7);
    cr_expect_eq(m->eval_ctx, 128);
    cr_expect_eq(m->n_specs, 3);
    cr_expect_eq(m->specs[0].n_types, 2);
    cr_expect_eq(m->specs[1].n_methods, 2);
    cr_expect(m->specs[1].act_order);
    cr_expect_float_eq(m->specs[1].damp, 0.05, 1e-12);
    cr_expect_str_eq(m->specs[1].tensor_types[0], "ffn_down=Q6_K");
    cr_expect_eq(m->specs[1].n_gates, 1);
    cr_expect_eq(m->specs[2].group_size, 128);
    cr_expect_eq(m->n_gates, 2);
    cr_expect_str_eq(m->gates[1].figure, "bits_per_weight", "bpw is an alias");
    cr_expect_str_eq(m->envelope[0].figure, "bytes", "size_bytes is an alias");
    free(m);
}

Test(batch_manifest, per_job_gate_replaces_the_global_one_on_its_figure)
{
    struct batch_manifest *m = malloc(sizeof *m);
    char path[4200];
    cr_assert_eq(read_text(m, good, path, sizeof path), 0, "%s", ig_error_message());
    struct batch_gate g[2 * BATCH_MAX_GATES];
    int n = batch_gates_resolve(m, 1, g);
    cr_expect_eq(n, 2);
    cr_expect_str_eq(g[0].figure, "bits_per_weight");
    cr_expect_float_eq(g[1].threshold, 0.002, 1e-12);
    cr_expect_eq(batch_gates_resolve(m, 0, g), 2);
    cr_expect_float_eq(g[0].threshold, 0.01, 1e-12);
    free(m);
}

/* ---- the catalogue of broken manifests ------------------------------------------------------ */

/* Arrays, not pointers: Criterion copies parameters into a fresh process, where the
 * addresses of string literals differ (PIE). */
struct bad_case {
    char what[48];
    char from[160], to[160];   /* replace the first `from` in the example with `to` */
    char want[3][64];        /* substrings of the message ("" when unused) */
};

static const struct bad_case bad_cases[] = {
    {"unknown top-level key", "gates:\n", "gate:\n", {":30:1: key 'gate'", "unknown key in the manifest", "allowed"}},
    {"unknown job key", "    damp: 0.05\n", "    dampp: 0.05\n", {":20:5: key 'dampp'", "unknown key in jobs[]", ""}},
    {"duplicate key", "  seed: 7\n", "  seed: 7\n  seed: 8\n", {":10:3: key 'seed'", "appears twice", ""}},
    {"not an integer", "  samples: 16\n", "  samples: lots\n", {":7:12: key 'calibration.samples'", "'lots'", ""}},
    {"integer out of range", "  ctx: 128\n", "  ctx: 0\n", {":12:8: key 'evaluation.ctx'", "8..", ""}},
    {"unknown method", "  - method: rtn\n", "  - method: rnt\n", {":15:13: key 'jobs[].method'", "'rnt'", "allowed"}},
    {"sources missing", "sources:\n  - name: tl3m\n    path: model\n", "", {"key 'sources'", "missing", ""}},
    {"evaluation missing", "evaluation:\n  text: eval.txt\n  ctx: 128\n  chunks: 4\n", "",
     {"key 'evaluation'", "missing", ""}},
    {"gate on an unknown figure", "  - kld_mean <= 0.01\n", "  - kld_meen <= 0.01\n",
     {":31:5: key 'gates'", "unknown figure 'kld_meen'", ""}},
    {"gate with a bad operator", "  - kld_mean <= 0.01\n", "  - kld_mean =< 0.01\n", {":31:5: key 'gates'", "operator", ""}},
    {"gate with words after it", "  - bpw <= 4.8\n", "  - bpw <= 4.8 mostly\n", {":32:5", "'mostly'", "unless not real"}},
    {"gate with no number", "  - bpw <= 4.8\n", "  - bpw <= x\n", {":32:5", "'x' is not a number", ""}},
    {"task gate without tasks", "  - bpw <= 4.8\n", "  - delta_acc >= -1 unless not real\n",
     {":32:5: key 'gates'", "evaluation.tasks", ""}},
    {"calibrated job without calibration", "calibration:\n  text: calib.txt\n  samples: 16\n  seq-len: 64\n  seed: 7\n",
     "", {"key 'jobs[].method'", "'gptq' needs a calibration section", ""}},
    {"group size on a k-quant", "    types: [I4]\n", "    types: [Q4_K_M]\n", {":26:17: key 'jobs[].group-size'", "I4", ""}},
    {"group size not allowed", "    group-size: 128\n", "    group-size: 96\n", {"key 'jobs[].group-size'", "32, 64, 128", ""}},
    {"not a boolean", "    act-order: true\n", "    act-order: maybe\n", {":21:16: key 'jobs[].act-order'", "'maybe'", ""}},
    {"file name without {type}", "{source}-{type}-{job}.gguf", "{source}.gguf", {"key 'output.name'", "{type}", ""}},
    {"unknown placeholder", "{source}-{type}-{job}.gguf", "{model}-{type}.gguf", {"key 'output.name'", "{model}", ""}},
    {"sources is a mapping", "sources:\n  - name: tl3m\n    path: model\n", "sources:\n  name: tl3m\n",
     {":3:3: key 'sources'", "non-empty list", ""}},
    {"empty type list", "    types: [Q8_0, Q4_K_M]\n", "    types: []\n", {":16:12: key 'jobs[].types'", "empty list", ""}},
    {"two sources with one name", "    path: model\n", "    path: model\n  - name: tl3m\n    path: other\n",
     {":5:11: key 'sources[].name'", "'tl3m' names two sources", ""}},
    {"future version", "version: 1\n", "version: 2\n", {":1:10: key 'version'", "1..1", ""}},
    {"YAML syntax", "    types: [Q8_0, Q4_K_M]\n", "    types: [Q8_0, Q4_K_M\n", {"key '(syntax)'", "", ""}},
    {"a list where a string belongs", "  text: eval.txt\n", "  text: [a, b]\n",
     {":11:9: key 'evaluation.text'", "expected a string", ""}},
    {"output dir missing", "  dir: out\n", "", {"key 'output.dir'", "missing", ""}},
    {"calibrate with an imatrix file", "    types: [Q8_0, Q4_K_M]\n",
     "    types: [Q8_0, Q4_K_M]\n    imatrix: x.dat\n    calibrate: true\n",
     {":18:16: key 'jobs[].calibrate'", "jobs[].imatrix both give importance", ""}},
    {"calibrate not a boolean", "    types: [Q8_0, Q4_K_M]\n", "    types: [Q8_0, Q4_K_M]\n    calibrate: often\n",
     {":17:16: key 'jobs[].calibrate'", "'often'", ""}},
    {"calibrate without calibration",
     "calibration:\n  text: calib.txt\n  samples: 16\n  seq-len: 64\n  seed: 7\nevaluation:\n  text: eval.txt\n"
     "  ctx: 128\n  chunks: 4\njobs:\n  - method: rtn\n",
     "evaluation:\n  text: eval.txt\n  ctx: 128\n  chunks: 4\njobs:\n  - method: rtn\n    calibrate: true\n",
     {":11:16: key 'jobs[].calibrate'", "needs a calibration section", ""}},
    {"two documents", "  - size_bytes <= 1000000\n", "  - size_bytes <= 1000000\n---\njobs: []\n",
     {":36:1: key '(document)'", "second YAML document", ""}},
};

ParameterizedTestParameters(batch_manifest, rejects_each_broken_manifest)
{
    return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(const struct bad_case *c, batch_manifest, rejects_each_broken_manifest)
{
    char text[4096], path[4200];
    const char *at = strstr(good, c->from);
    cr_assert_not_null(at, "[%s] '%s' is not in the example", c->what, c->from);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good), good, c->to, at + strlen(c->from));
    struct batch_manifest *m = malloc(sizeof *m);
    int rc = read_text(m, text, path, sizeof path);
    cr_expect_eq(rc, IG_EINVAL, "[%s] rc %d", c->what, rc);
    const char *msg = ig_error_message();
    cr_expect(strstr(msg, path) == msg, "[%s] the message names the file first: %s", c->what, msg);
    for (int i = 0; i < 3; i++)
        cr_expect(strstr(msg, c->want[i]), "[%s] '%s' not in: %s", c->what, c->want[i], msg);
    free(m);
}

Test(batch_manifest, rejects_an_empty_file_and_a_missing_one)
{
    struct batch_manifest *m = malloc(sizeof *m);
    char path[4200];
    cr_expect_eq(read_text(m, "", path, sizeof path), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "empty"), "%s", ig_error_message());
    cr_expect_eq(batch_manifest_read(m, "/nonexistent/m.yaml"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "/nonexistent/m.yaml"), "%s", ig_error_message());
    free(m);
}

/* ---- gates ---------------------------------------------------------------------------------- */

Test(batch_gate, parses_and_evaluates_each_operator)
{
    struct batch_gate g;
    cr_assert_eq(batch_gate_parse(&g, "kld_mean <= 0.01"), 0);
    cr_expect(batch_gate_holds(&g, 0.01));
    cr_expect(!batch_gate_holds(&g, 0.0100001));
    cr_expect(!batch_gate_holds(&g, 0.0 / 0.0), "NaN never meets a gate");
    cr_assert_eq(batch_gate_parse(&g, "same_top_pct > 95"), 0);
    cr_expect(!batch_gate_holds(&g, 95));
    cr_assert_eq(batch_gate_parse(&g, "delta_acc >= -1.0 unless not real"), 0);
    cr_expect(g.unless_not_real);
    cr_expect_eq(batch_gate_parse(&g, "kld_mean == 0.01"), IG_EINVAL);
}
