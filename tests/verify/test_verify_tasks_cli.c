/* test_verify_tasks_cli.c — `ingot verify --tasks`: llama-perplexity's HellaSwag figures, the
 * paired report, bad task files, and the same figures whatever the thread count.
 *
 * Golden figures (../shared/data/peers/README.md, section "Tasks"): llama-perplexity
 * --hellaswag --hellaswag-tasks 400 -c 256 on tl3m, acc_norm after 400 tasks (after 100 / 200):
 *   tl3m-F16.gguf  20.25% (24.00% / 19.00%)
 *   tl3m-Q4_0.gguf 19.75% (24.00% / 19.50%)
 * The issue allows 0.5 points (two items of 400): llama.cpp's quantized dot products round the
 * activations to 8 bits, which can flip a near tie. No llama-perplexity figure for Q2_K is
 * recorded there; ingot's is checked against its own measurement (see the test).
 */
#include "../test_util.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARED(var, rel)                                                                           \
    char var##_buf[4096];                                                                          \
    const char *var = test_shared_path(rel);                                                       \
    if (!var)                                                                                      \
        cr_skip_test("../shared/data is missing");                                                 \
    snprintf(var##_buf, sizeof var##_buf, "%s", var);                                              \
    var = var##_buf

/* Run `ingot verify ARGS --json-out DIR/NAME.json -q` and parse the JSON. */
static json_t *run_json(const char *const *tail, const char *name)
{
    static char json_path[4200];
    snprintf(json_path, sizeof json_path, "%s/%s.json", test_tmp_dir(), name);
    const char *argv[48] = {"verify", "--json-out", json_path, "-q"};
    int n = 4;
    for (int i = 0; tail[i]; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "verify failed: %s", r.err);
    json_error_t err;
    json_t *j = json_load_file(json_path, 0, &err);
    cr_assert_not_null(j, "%s: %s", json_path, err.text);
    return j;
}

static const char *hellaswag_txt(void)
{
    const char *bz = test_shared_path("hellaswag/hellaswag_val_full.txt.bz2");
    if (!bz)
        cr_skip_test("../shared/data is missing");
    static char out[4200];
    snprintf(out, sizeof out, "%s/hellaswag_val_full.txt", test_tmp_dir());
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "bzip2 -dc '%s' > '%s'", bz, out);
    if (system(cmd) != 0)
        cr_skip_test("bzip2 -dc failed (bzip2 not installed?)");
    return out;
}

/* Running acc_norm (%) after the first k items of `model` ("source" or container 0, 1) in --items. */
static double running_acc(const char *items_path, int container, int64_t k)
{
    FILE *f = fopen(items_path, "r");
    cr_assert_not_null(f, "%s", items_path);
    char line[65536];
    int64_t n = 0, right = 0;
    while (n < k && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "--items line %lld is JSON", (long long)n + 1);
        json_t *m = container < 0 ? json_object_get(j, "source")
                                  : json_array_get(json_object_get(j, "containers"), (size_t)container);
        right += json_is_true(json_object_get(m, "correct"));
        n++;
        json_decref(j);
    }
    fclose(f);
    cr_assert_eq(n, k);
    return 100.0 * (double)right / (double)k;
}

/* llama-perplexity --hellaswag on tl3m (../shared/data/peers/README.md, "Tasks"): it prints the
 * running acc_norm after every task; after 100 / 200 of its 400 seeded tasks F16 has 24.00% /
 * 19.00% and Q4_0 24.00% / 19.50%. Its draw does not depend on the task count, so --task-limit 200
 * picks the same first 200 tasks: the suite scores 200 (the full 400 — F16 20.25%, Q4_0 19.75% —
 * take about 4 minutes more on 2 cores: INGOT_HELLASWAG_400=1 adds them). */
Test(verify_tasks_cli, hellaswag_acc_norm_matches_llama_perplexity, .timeout = 1800)
{
    SHARED(f16, "peers/tl3m/tl3m-F16.gguf");
    SHARED(q4, "peers/tl3m/tl3m-Q4_0.gguf");
    const bool all = getenv("INGOT_HELLASWAG_400") != NULL;
    const char *limit = all ? "400" : "200";
    char spec[4300], items[4200];
    snprintf(spec, sizeof spec, "hellaswag:%s", hellaswag_txt());
    snprintf(items, sizeof items, "%s/hs_items.jsonl", test_tmp_dir());
    const char *tail[] = {q4, "--source", f16, "--tasks", spec, "--task-limit", limit, "--bootstrap", "200",
                          "--items", items, NULL};
    json_t *j = run_json(tail, "hs");
    json_t *t = json_object_get(json_object_get(j, "tasks"), "hellaswag_val_full");
    cr_assert_not_null(t, "tasks.hellaswag_val_full");
    cr_expect_eq(test_json_num(t, "n_items"), all ? 400 : 200);
    cr_expect_str_eq(json_string_value(json_object_get(t, "metric")), "acc_norm");
    cr_expect_eq(test_json_num(json_object_get(t, "source"), "acc"), test_json_num(json_object_get(t, "source"), "acc_norm"),
                 "HellaSwag's primary metric is llama-perplexity's acc_norm");
    json_t *s = json_object_get(t, "source"), *c = json_object_get(t, "containers");
    double f16_acc = 100 * test_json_num(s, "acc_norm"), q4_acc = 100 * test_json_num(json_array_get(c, 0), "acc_norm");
    double f16_want = all ? 20.25 : 19.00, q4_want = all ? 19.75 : 19.50;
    cr_expect_leq(fabs(f16_acc - f16_want), 0.5, "F16 acc_norm %.2f%%, llama-perplexity %.2f%%", f16_acc, f16_want);
    cr_expect_leq(fabs(q4_acc - q4_want), 0.5, "Q4_0 acc_norm %.2f%%, llama-perplexity %.2f%%", q4_acc, q4_want);
    cr_expect_leq(fabs(running_acc(items, -1, 100) - 24.00), 0.5, "F16 after 100 items");
    cr_expect_leq(fabs(running_acc(items, -1, 200) - 19.00), 0.5, "F16 after 200 items");
    cr_expect_leq(fabs(running_acc(items, 0, 100) - 24.00), 0.5, "Q4_0 after 100 items");
    cr_expect_leq(fabs(running_acc(items, 0, 200) - 19.50), 0.5, "Q4_0 after 200 items");
    json_t *tiers = json_object_get(json_array_get(c, 0), "tiers");
    cr_expect_eq(test_json_num(json_object_get(tiers, "head"), "n_items") + test_json_num(json_object_get(tiers, "mid"), "n_items") +
                     test_json_num(json_object_get(tiers, "tail"), "n_items"),
                 test_json_num(t, "n_items"), "every item has an activity label, so every item is in a tier");
    json_decref(j);
}

/* A small cloze task from the demo's held-out text: 60 items. */
static const char *cloze_spec(void)
{
    static char spec[4300];
    snprintf(spec, sizeof spec, "cloze:%s", test_fixture_path("../../examples/tl3m/eval.txt"));
    return spec;
}

Test(verify_tasks_cli, same_seed_same_figures_whatever_the_threads, .timeout = 900)
{
    SHARED(q2, "peers/tl3m/tl3m-Q2_K.gguf");
    const char *src = test_fixture_path("../../examples/tl3m");
    const char *t1[] = {q2, "--source", src, "--tasks", cloze_spec(), "--task-limit", "60", "--seed", "5", "--threads", "1", NULL};
    const char *t3[] = {q2, "--source", src, "--tasks", cloze_spec(), "--task-limit", "60", "--seed", "5", "--threads", "3", NULL};
    json_t *a = run_json(t1, "th1"), *b = run_json(t3, "th3");
    json_t *ta = json_object_get(json_object_get(a, "tasks"), "eval"), *tb = json_object_get(json_object_get(b, "tasks"), "eval");
    cr_assert_not_null(ta);
    /* timings differ; every figure must not */
    json_object_del(json_object_get(ta, "source"), "seconds");
    json_object_del(json_object_get(tb, "source"), "seconds");
    json_object_del(json_array_get(json_object_get(ta, "containers"), 0), "seconds");
    json_object_del(json_array_get(json_object_get(tb, "containers"), 0), "seconds");
    char *sa = json_dumps(ta, JSON_SORT_KEYS), *sb = json_dumps(tb, JSON_SORT_KEYS);
    cr_expect_str_eq(sa, sb, "--threads 1 and 3 give the same figures");
    free(sa);
    free(sb);
    json_decref(a);
    json_decref(b);
}

Test(verify_tasks_cli, report_names_and_outputs, .timeout = 900)
{
    SHARED(q2, "peers/tl3m/tl3m-Q2_K.gguf");
    const char *src = test_fixture_path("../../examples/tl3m");
    char md[4200], items[4200], lambada[4200];
    snprintf(md, sizeof md, "%s/r.md", test_tmp_dir());
    snprintf(items, sizeof items, "%s/r.jsonl", test_tmp_dir());
    snprintf(lambada, sizeof lambada, "%s/lam.jsonl", test_tmp_dir());
    const char *lam = "{\"context\": \"Once upon a\", \"continuation\": \"time\"}\n"
                      "{\"context\": \"The little girl was very\", \"continuation\": \"happy\"}\n";
    cr_assert_eq(test_write_file(lambada, lam, strlen(lam)), 0);
    const char *tail[] = {q2, "--source", src, "--tasks", cloze_spec(), "--tasks", lambada, "--task-limit", "40",
                          "--md", md, "--items", items, "--tiers", "5,10", NULL};
    json_t *j = run_json(tail, "rep");
    json_t *t = json_object_get(json_object_get(j, "tasks"), "eval");
    json_t *c = json_array_get(json_object_get(t, "containers"), 0);
    static const char *const keys[] = {"acc", "acc_lm_eval", "acc_norm", "acc_norm_lm_eval", "delta_acc", "delta_acc_ci_low",
                                       "delta_acc_ci_high", "flips_right_to_wrong", "flips_wrong_to_right",
                                       "mcnemar_p", "ece", "ece_post_t", "temperature", "ece_half_b_post_t", NULL};
    for (int i = 0; keys[i]; i++)
        cr_expect(json_is_number(json_object_get(c, keys[i])), "tasks.eval.containers[0].%s is a number", keys[i]);
    cr_expect(json_is_string(json_object_get(c, "verdict")), "verdict");
    cr_expect_eq(json_array_size(json_object_get(c, "reliability")), 15, "15 reliability bins");
    cr_expect(json_is_object(json_object_get(c, "tiers")), "tiers by answer word");
    json_t *tiers = json_object_get(t, "tiers");
    cr_expect_eq(test_json_num(tiers, "head_categories"), 5, "--tiers 5,10");
    cr_expect_eq(test_json_num(json_object_get(tiers, "head"), "n_categories"), 5);
    cr_expect_eq(test_json_num(json_object_get(tiers, "mid"), "n_categories"), 10);
    cr_expect(json_equal(json_object_get(json_object_get(json_array_get(json_object_get(j, "containers"), 0), "tasks"),
                                         "eval"),
                         c),
              "containers[0].tasks.eval holds the same figures as tasks.eval.containers[0]");
    json_t *l = json_object_get(json_object_get(j, "tasks"), "lam");
    cr_assert_not_null(l, "tasks.lam");
    cr_expect_eq(test_json_num(l, "n_items"), 2);
    cr_expect(json_is_null(json_object_get(json_object_get(l, "source"), "ece")), "LAMBADA has no ECE: null, not a sentinel");
    cr_expect(json_is_null(json_object_get(json_object_get(l, "source"), "acc_norm")), "LAMBADA acc_norm is null");
    cr_expect(json_is_null(json_object_get(j, "eval")) || !json_object_get(j, "eval"), "no --eval: no perplexity");
    size_t n;
    char *text = (char *)test_read_file(md, &n);
    cr_assert_not_null(text, "--md written");
    cr_expect(strstr(text, "| model |") && strstr(text, "McNemar"), "Markdown table: %.200s", text);
    free(text);
    text = (char *)test_read_file(items, &n);
    cr_assert_not_null(text, "--items written");
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    cr_expect_eq(lines, 42, "40 cloze + 2 LAMBADA records");
    cr_expect(strstr(text, "\"scores\"") && strstr(text, "\"correct\""), "records hold scores and correctness");
    free(text);
    json_decref(j);
}

Test(verify_tasks_cli, json_on_stdout_without_eval)
{
    char lambada[4200];
    snprintf(lambada, sizeof lambada, "%s/lam2.jsonl", test_tmp_dir());
    const char *lam = "{\"context\": \"Once upon a\", \"continuation\": \"time\"}\n";
    cr_assert_eq(test_write_file(lambada, lam, strlen(lam)), 0);
    const char *argv[] = {"verify", "--source", test_fixture_path("../../examples/tl3m"), "--tasks", lambada, "--json", "-q",
                          NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    json_t *j = json_loads(r.out, 0, NULL);
    cr_assert_not_null(j, "stdout is the JSON document: %.300s", r.out);
    cr_expect(json_is_null(json_object_get(j, "eval")), "no --eval: eval is null");
    cr_expect(json_is_number(json_object_get(json_object_get(json_object_get(json_object_get(j, "tasks"), "lam2"), "source"),
                                             "acc")),
              "tasks.lam2.source.acc");
    cr_expect(strstr(r.err, "task lam2"), "the table goes to stderr: %s", r.err);
    json_decref(j);
}

/* One bad task file through the command: exit 2, the message names the file, line and field. */
static void expect_exit_2(const char *name, const char *kind, const char *content, const char *const *needles)
{
    char path[4200], spec[4300];
    snprintf(path, sizeof path, "%s/%s", test_tmp_dir(), name);
    snprintf(spec, sizeof spec, "%s%s", kind, path);
    cr_assert_eq(test_write_file(path, content, strlen(content)), 0);
    const char *argv[] = {"verify", "--source", test_fixture_path("../../examples/tl3m"), "--tasks", spec, "-q", NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "%s: exit %d, stderr %s", name, r.exit_code, r.err);
    cr_expect(strstr(r.err, path), "%s: names the file: %s", name, r.err);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(r.err, needles[i]), "%s: stderr names '%s': %s", name, needles[i], r.err);
}

Test(verify_tasks_cli, wrong_field_names_exit_2)
{
    expect_exit_2("wf.jsonl", "mc:", "{\"question\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n",
                  (const char *const[]){":1:", "'query'", NULL});
}

Test(verify_tasks_cli, gold_out_of_range_exits_2)
{
    expect_exit_2("go.jsonl", "", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n"
                                  "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 5}\n",
                  (const char *const[]){":2:", "'gold'", "5 is out of range", NULL});
}

Test(verify_tasks_cli, empty_choices_exit_2)
{
    expect_exit_2("ec.jsonl", "", "{\"query\": \"q?\", \"choices\": [], \"gold\": 0}\n",
                  (const char *const[]){":1:", "'choices'", NULL});
}

Test(verify_tasks_cli, not_json_exits_2)
{
    expect_exit_2("nj.jsonl", "mc:", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\nnot json at all\n",
                  (const char *const[]){":2:", "not JSON", NULL});
}

Test(verify_tasks_cli, label_not_in_list_exits_2)
{
    expect_exit_2("ll.jsonl", "cls:", "{\"labels\": [\"pos\", \"neg\"]}\n{\"text\": \"fine\", \"label\": \"meh\"}\n",
                  (const char *const[]){":2:", "'label'", "'meh'", NULL});
}

Test(verify_tasks_cli, a_container_of_another_model_exits_2)
{
    SHARED(other, "gguf-stories260K/stories260K.gguf");
    char lambada[4200];
    snprintf(lambada, sizeof lambada, "%s/lam3.jsonl", test_tmp_dir());
    const char *lam = "{\"context\": \"Once upon a\", \"continuation\": \"time\"}\n";
    cr_assert_eq(test_write_file(lambada, lam, strlen(lam)), 0);
    const char *argv[] = {"verify", other, "--source", test_fixture_path("../../examples/tl3m"), "--tasks", lambada, "-q",
                          NULL};
    struct test_run r;
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "%s", r.err);
    cr_expect(strstr(r.err, "stories260K.gguf") && (strstr(r.err, "not the source's model") || strstr(r.err, "vocab")),
              "%s", r.err);
}

Test(verify_tasks_cli, make_cloze_is_deterministic)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/c1.jsonl", test_tmp_dir());
    snprintf(b, sizeof b, "%s/c2.jsonl", test_tmp_dir());
    const char *eval = test_fixture_path("../../examples/tl3m/eval.txt");
    const char *a1[] = {"task", "make-cloze", eval, "-o", a, "--seed", "3", "--items", "50", NULL};
    const char *a2[] = {"task", "make-cloze", eval, "-o", b, "--seed", "3", "--items", "50", NULL};
    struct test_run r;
    test_run_ingot(&r, a1);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    test_run_ingot(&r, a2);
    cr_assert_eq(r.exit_code, 0, "%s", r.err);
    size_t na, nb;
    char *ta = (char *)test_read_file(a, &na), *tb = (char *)test_read_file(b, &nb);
    cr_assert(ta && tb);
    cr_expect(na == nb && memcmp(ta, tb, na) == 0, "same text and seed, same file");
    free(ta);
    free(tb);
}
