/* test_task_files.c — task files into items (verify/task_files.h): the real files under
 * ../shared/data parse with the counts their sources state, llama-perplexity's seeded choice of
 * HellaSwag items, the cloze builder, and a catalogue of bad files, one fault each, every one
 * IG_EINVAL with a message naming the file, the line and the field.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "verify/cloze.h"
#include "verify/task_files.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *write_tmp(const char *name, const char *text)
{
    static char path[8][4200];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", test_tmp_dir(), name);
    cr_assert_eq(test_write_file(p, text, strlen(text)), 0, "cannot write %s", p);
    return p;
}

/* Load spec, expect IG_EINVAL and every needle in the message. */
static void expect_bad(const char *spec, const char *const *needles)
{
    struct task_set *t = (struct task_set *)1;
    int rc = task_set_load(&t, spec);
    cr_expect_eq(rc, IG_EINVAL, "%s: rc %d, message '%s'", spec, rc, ig_error_message());
    cr_expect_null(t, "no set on failure");
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(ig_error_message(), needles[i]), "'%s' names '%s'", ig_error_message(), needles[i]);
}

/* ---- real files ------------------------------------------------------------------------------ */

static struct task_set *load_shared(const char *kind, const char *rel, int64_t n_items, const char *schema)
{
    const char *p = test_shared_path(rel);
    if (!p)
        cr_skip_test("../shared/data is missing");
    char spec[4200];
    snprintf(spec, sizeof spec, "%s%s", kind, p);
    struct task_set *t;
    cr_assert_eq(task_set_load(&t, spec), 0, "%s: %s", spec, ig_error_message());
    cr_expect_eq(t->n_items, n_items, "%s: %lld items", rel, (long long)t->n_items);
    cr_expect_str_eq(t->schema, schema);
    return t;
}

Test(task_files, reads_the_shared_task_files)
{
    struct task_set *t = load_shared("", "llm-foundry-eval/arc_easy.jsonl", 2376, "query_choices");
    cr_expect_eq(t->items[0].n_options, 4);
    cr_expect_eq(strncmp(t->items[0].options[0].continuation, " ", 1), 0, "continuations start with a space");
    task_set_destroy(t);
    t = load_shared("", "llm-foundry-eval/winogrande.jsonl", 1267, "winogrande");
    cr_expect_str_eq(t->items[0].options[0].continuation, t->items[0].options[1].continuation);
    cr_expect_eq(t->items[0].gold, 1);
    task_set_destroy(t);
    t = load_shared("mc:", "piqa/valid.jsonl", 1838, "piqa");
    cr_expect(t->items[0].gold == 0 && t->items[1].gold == 1, "labels from valid-labels.lst");
    cr_expect_eq(strncmp(t->items[0].options[0].context, "Question: ", 10), 0);
    task_set_destroy(t);
    t = load_shared("", "llm-foundry-eval/copa.jsonl", 100, "query_choices");
    task_set_destroy(t);
    t = load_shared("lambada:", "llm-foundry-eval/lambada_openai.jsonl", 5153, "lambada");
    cr_expect_str_eq(t->items[0].options[0].continuation, " signs");
    cr_expect_eq(t->kind, TASK_KIND_LAMBADA);
    task_set_destroy(t);
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

Test(task_files, hellaswag_choice_of_items_is_llama_perplexitys)
{
    struct task_set *t;
    cr_assert_eq(task_set_load(&t, hellaswag_txt()), 0, "%s", ig_error_message());
    cr_expect_eq(t->n_items, 10042);
    cr_expect_str_eq(t->schema, "hellaswag");
    cr_expect_str_eq(t->categories[t->items[0].category], "Roof shingle removal");
    cr_expect_eq(t->items[0].gold, 3);
    task_set_select(t, 400);
    cr_assert_eq(t->n_items, 400);
    /* mt19937(1) draws 4187 of 10042, 10012 of 10041, 7233 of 10040, ... over the remaining
     * items, erased as drawn: item 4187 is gone, so draw 10012 is item 10013 */
    cr_expect_eq(t->items[0].index, 4187);
    cr_expect_eq(t->items[1].index, 10013);
    cr_expect_eq(t->items[2].index, 7233);
    task_set_destroy(t);
}

Test(task_files, cloze_is_deterministic)
{
    const char *eval = test_fixture_path("../../examples/tl3m/eval.txt");
    size_t n;
    char *text = (char *)test_read_file(eval, &n);
    cr_assert_not_null(text, "%s", eval);
    struct cloze_opts o = {.seed = 5, .max_items = 100, .n_choices = 4, .max_context_bytes = 400};
    char *a, *b;
    int64_t na, nb;
    cr_assert_eq(cloze_build(text, n, &o, &a, &na), 0, "%s", ig_error_message());
    cr_assert_eq(cloze_build(text, n, &o, &b, &nb), 0);
    cr_expect_eq(na, 100);
    cr_expect_str_eq(a, b, "same seed, same items");
    o.seed = 6;
    free(b);
    cr_assert_eq(cloze_build(text, n, &o, &b, &nb), 0);
    cr_expect_str_neq(a, b, "another seed, other items");
    const char *p = write_tmp("cloze.jsonl", a);
    struct task_set *t;
    cr_assert_eq(task_set_load(&t, p), 0, "%s", ig_error_message());
    cr_expect_eq(t->n_items, 100);
    cr_expect(t->n_categories > 10, "categories are the answers");
    task_set_destroy(t);
    free(a);
    free(b);
    free(text);
}

/* ---- bad files ------------------------------------------------------------------------------------ */

Test(task_files, rejects_wrong_field_names)
{
    const char *p = write_tmp("wrong.jsonl", "{\"question\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n");
    char spec[4300];
    snprintf(spec, sizeof spec, "mc:%s", p);
    expect_bad(spec, (const char *const[]){p, ":1:", "'query'", NULL});
    p = write_tmp("wrong2.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n"
                                  "{\"query\": \"r?\", \"answers\": [\"a\", \"b\"], \"gold\": 0}\n");
    expect_bad(p, (const char *const[]){p, ":2:", "'choices'", NULL});
    p = write_tmp("unknown.jsonl", "{\"prompt\": \"q?\", \"target\": \"a\"}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "no known task schema", NULL});
}

Test(task_files, rejects_gold_out_of_range)
{
    const char *p = write_tmp("gold.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n\n"
                                            "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n");
    expect_bad(p, (const char *const[]){p, ":3:", "'gold'", "2 is out of range (0..1)", NULL});
    p = write_tmp("gold_neg.jsonl", "{\"context_options\": [\"a\", \"b\"], \"continuation\": \"c\", \"gold\": -1}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "'gold'", NULL});
    p = write_tmp("gold_str.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": \"0\"}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "'gold'", "not an integer", NULL});
    p = write_tmp("hs_gold.txt", "A: ctx\n7\na\nb\nc\nd\n");
    expect_bad(p, (const char *const[]){p, ":2:", "'gold'", NULL});
}

Test(task_files, rejects_empty_choices)
{
    const char *p = write_tmp("empty.jsonl", "{\"query\": \"q?\", \"choices\": [], \"gold\": 0}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "'choices'", "at least 2", NULL});
    p = write_tmp("one.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\"], \"gold\": 0}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "'choices'", NULL});
    p = write_tmp("num.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\", 3], \"gold\": 0}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "'choices'", "entry 1 is not a string", NULL});
}

Test(task_files, rejects_not_json)
{
    const char *p = write_tmp("broken.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n"
                                              "{\"query\": \"q?\", \"choices\": [\"a\", \n");
    expect_bad(p, (const char *const[]){p, ":2:", "not JSON", NULL});
    p = write_tmp("array.jsonl", "{\"query\": \"q?\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n[1, 2]\n");
    expect_bad(p, (const char *const[]){p, ":2:", "not a JSON object", NULL});
    p = write_tmp("lines.txt", "A: ctx\n0\na\nb\n");
    expect_bad(p, (const char *const[]){p, "6 lines per item", NULL});
}

Test(task_files, rejects_label_not_in_list)
{
    const char *p = write_tmp("cls.jsonl", "{\"labels\": [\"positive\", \"negative\"]}\n"
                                           "{\"text\": \"good\", \"label\": \"positive\"}\n"
                                           "{\"text\": \"meh\", \"label\": \"neutral\"}\n");
    expect_bad(p, (const char *const[]){p, ":3:", "'label'", "'neutral' is not in the label list", NULL});
    p = write_tmp("cls2.jsonl", "{\"labels\": [\"a\", \"b\"], \"verbalizers\": [\" x\"]}\n{\"text\": \"t\", \"label\": \"a\"}\n");
    expect_bad(p, (const char *const[]){p, ":1:", "'verbalizers'", NULL});
    p = write_tmp("cls3.jsonl", "{\"text\": \"t\", \"label\": 3}\n");
    char spec[4300];
    snprintf(spec, sizeof spec, "cls:%s", p);
    expect_bad(spec, (const char *const[]){p, ":1:", "'label'", "not a string", NULL});
}

Test(task_files, rejects_missing_piqa_labels_and_files)
{
    const char *p = write_tmp("piqa_nolabels.jsonl", "{\"goal\": \"g\", \"sol1\": \"a\", \"sol2\": \"b\"}\n");
    expect_bad(p, (const char *const[]){p, "piqa_nolabels-labels.lst", NULL});
    expect_bad("mc:/nonexistent/x.jsonl", (const char *const[]){"/nonexistent/x.jsonl", NULL});
    p = write_tmp("lambada.jsonl", "{\"context\": \"c\", \"continuation\": \"\"}\n");
    char spec[4300];
    snprintf(spec, sizeof spec, "lambada:%s", p);
    expect_bad(spec, (const char *const[]){p, ":1:", "'continuation'", "empty", NULL});
}

Test(task_files, classification_labels_and_verbalizers)
{
    const char *p = write_tmp("cls_ok.jsonl", "{\"labels\": [\"pos\", \"neg\"], \"verbalizers\": [\" great\", \" awful\"]}\n"
                                              "{\"text\": \"I liked it.\", \"label\": \"neg\"}\n");
    struct task_set *t;
    cr_assert_eq(task_set_load(&t, p), 0, "%s", ig_error_message());
    cr_expect_eq(t->n_labels, 2);
    cr_expect_eq(t->items[0].gold, 1);
    cr_expect_str_eq(t->items[0].options[0].continuation, " great");
    cr_expect_str_eq(t->categories[t->items[0].category], "neg");
    task_set_destroy(t);
    p = write_tmp("cls_nohdr.jsonl", "{\"text\": \"a\", \"label\": \"zeta\"}\n{\"text\": \"b\", \"label\": \"alpha\"}\n");
    cr_assert_eq(task_set_load(&t, p), 0, "%s", ig_error_message());
    cr_expect(t->n_labels == 2 && strcmp(t->labels[0], "alpha") == 0, "labels seen, sorted");
    cr_expect_str_eq(t->items[0].options[1].continuation, " zeta");
    task_set_destroy(t);
}
