/* test_task_metrics.c — one model's figures from option scores (verify/task_metrics.h):
 * the three accuracies, classification F1 (including a task with one class only), LAMBADA's
 * greedy rule, and tiers. Scores are set by hand; the tokenizer is tl3m's (examples/tl3m).
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/model_src.h"
#include "verify/task_metrics.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fixture {
    struct model_src *src;
    struct tokenizer *tok;
    struct task_set *set;
    struct task_prepared *prep;
    struct task_scores scores;
};

static void setup(struct fixture *f, const char *name, const char *text)
{
    memset(f, 0, sizeof *f);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", test_tmp_dir(), name);
    cr_assert_eq(test_write_file(path, text, strlen(text)), 0);
    cr_assert_eq(model_src_open(&f->src, test_fixture_path("../../examples/tl3m"), NULL), 0, "%s", ig_error_message());
    cr_assert_eq(tokenizer_create(&f->tok, &f->src->vocab), 0, "%s", ig_error_message());
    cr_assert_eq(task_set_load(&f->set, path), 0, "%s", ig_error_message());
    cr_assert_eq(task_prepare(&f->prep, f->set, f->tok), 0, "%s", ig_error_message());
    f->scores.n_opts = f->prep->offset[f->set->n_items];
    f->scores.opt = calloc((size_t)f->scores.n_opts, sizeof *f->scores.opt);
}

static void teardown(struct fixture *f)
{
    free(f->scores.opt);
    task_prepared_destroy(f->prep);
    task_set_destroy(f->set);
    tokenizer_destroy(f->tok);
    model_src_close(f->src);
}

/* Make option `pick` of item i the winner under every scoring. */
static void favour(struct fixture *f, int64_t i, int pick)
{
    for (int64_t k = f->prep->offset[i]; k < f->prep->offset[i + 1]; k++) {
        int win = k - f->prep->offset[i] == pick;
        f->scores.opt[k].ll_sum = win ? -1.0 : -50.0;
        f->scores.opt[k].ll_cp_mean = win ? -0.1 : -5.0;
    }
}

Test(task_metrics, classification_f1_per_class_and_macro)
{
    struct fixture f;
    setup(&f, "cls.jsonl",
          "{\"labels\": [\"a\", \"b\", \"c\"]}\n"
          "{\"text\": \"one\", \"label\": \"a\"}\n{\"text\": \"two\", \"label\": \"a\"}\n"
          "{\"text\": \"three\", \"label\": \"b\"}\n{\"text\": \"four\", \"label\": \"b\"}\n");
    favour(&f, 0, 0);   /* a → a */
    favour(&f, 1, 1);   /* a → b */
    favour(&f, 2, 1);   /* b → b */
    favour(&f, 3, 0);   /* b → a */
    struct task_figures fig;
    cr_assert_eq(task_figures_compute(f.prep, &f.scores, 1, &fig), 0);
    cr_expect_eq(fig.metric, TASK_METRIC_ACC);
    cr_expect_eq(fig.acc, 0.5);
    /* a: tp 1, fp 1, fn 1 → 0.5; b the same; c never gold nor predicted → undefined */
    cr_expect(fig.class_f1_valid[0] && fig.class_f1[0] == 0.5, "F1(a) %g", fig.class_f1[0]);
    cr_expect(fig.class_f1_valid[1] && fig.class_f1[1] == 0.5, "F1(b) %g", fig.class_f1[1]);
    cr_expect(!fig.class_f1_valid[2], "F1(c) does not exist");
    cr_expect(fig.has_macro_f1 && fig.macro_f1 == 0.5, "macro-F1 over the defined classes: %g", fig.macro_f1);
    cr_expect_eq(fig.class_support[0], 2);
    task_figures_free(&fig);
    teardown(&f);
}

Test(task_metrics, classification_with_one_class_only)
{
    struct fixture f;
    setup(&f, "cls1.jsonl",
          "{\"labels\": [\"yes\", \"no\"]}\n{\"text\": \"x\", \"label\": \"yes\"}\n{\"text\": \"y\", \"label\": \"yes\"}\n"
          "{\"text\": \"z\", \"label\": \"yes\"}\n");
    favour(&f, 0, 0);
    favour(&f, 1, 0);
    favour(&f, 2, 1);
    struct task_figures fig;
    cr_assert_eq(task_figures_compute(f.prep, &f.scores, 1, &fig), 0);
    /* yes: tp 2, fn 1 → 0.8; no: tp 0, fp 1 → 0 */
    cr_expect(fabs(fig.class_f1[0] - 0.8) < 1e-15, "F1(yes) %g", fig.class_f1[0]);
    cr_expect(fig.class_f1_valid[1] && fig.class_f1[1] == 0.0, "F1(no) %g", fig.class_f1[1]);
    cr_expect(fabs(fig.macro_f1 - 0.4) < 1e-15, "macro-F1 %g", fig.macro_f1);
    cr_expect(fabs(fig.acc - 2.0 / 3.0) < 1e-15);
    task_figures_free(&fig);
    teardown(&f);
}

Test(task_metrics, three_scorings_disagree_as_they_should)
{
    struct fixture f;
    setup(&f, "mc.jsonl", "{\"query\": \"The cat sat on the\", \"choices\": [\"mat\", \"big red sofa\"], \"gold\": 1}\n");
    /* Σ log p favours the short answer; per byte and per token the long one */
    f.scores.opt[0].ll_sum = -4.0, f.scores.opt[0].ll_cp_mean = -4.0;
    f.scores.opt[1].ll_sum = -6.0, f.scores.opt[1].ll_cp_mean = -1.0;
    struct task_figures fig;
    cr_assert_eq(task_figures_compute(f.prep, &f.scores, 1, &fig), 0);
    cr_expect_eq(fig.acc, 0.0);
    cr_expect_eq(fig.acc_norm, 1.0);
    cr_expect_eq(fig.acc_norm_bytes, 1.0, "-4/4 bytes < -6/13 bytes");
    cr_expect_eq(f.prep->opts[1].n_bytes, 13);
    cr_expect(f.prep->cp[0] >= 1 && f.prep->cp[0] < f.prep->opts[0].n, "common prefix inside both options");
    task_figures_free(&fig);
    teardown(&f);
}

Test(task_metrics, lambada_is_greedy_match)
{
    struct fixture f;
    setup(&f, "lambada.jsonl", "{\"context\": \"Once upon a\", \"continuation\": \"time\"}\n"
                               "{\"context\": \"The dog\", \"continuation\": \"barked\"}\n");
    f.scores.opt[0].greedy = 1;
    struct task_figures fig;
    cr_assert_eq(task_figures_compute(f.prep, &f.scores, 1, &fig), 0);
    cr_expect_eq(fig.acc, 0.5);
    cr_expect(!fig.has_choices, "no calibration or acc_norm for LAMBADA");
    task_figures_free(&fig);
    teardown(&f);
}

Test(task_metrics, tiers_rank_categories_by_frequency)
{
    struct fixture f;
    setup(&f, "tiers.jsonl",
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"category\": \"rare\"}\n"
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"category\": \"common\"}\n"
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"category\": \"common\"}\n"
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"category\": \"middle\"}\n"
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"category\": \"middle\"}\n"
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0, \"category\": \"common\"}\n"
          "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n");
    struct task_tiers t;
    cr_assert_eq(task_tiers_build(f.set, 1, 1, &t), 0);
    cr_expect(t.n_items[0] == 3 && t.n_items[1] == 2 && t.n_items[2] == 1, "3 common, 2 middle, 1 rare: %lld %lld %lld",
              (long long)t.n_items[0], (long long)t.n_items[1], (long long)t.n_items[2]);
    cr_expect(t.items[0][0] == 1 && t.items[0][2] == 5, "head items in item order");
    cr_expect_eq(t.items[2][0], 0);
    task_tiers_free(&t);
    teardown(&f);
}
