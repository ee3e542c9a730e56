/* arch_util.h — what the architecture tests (tests/model/test_arch_*.c) check the same way:
 * ingot's logits of a seeded tiny model against llama.cpp's recorded ones, and GPTQ/AWQ against
 * round-to-nearest on it. */
#ifndef TEST_ARCH_UTIL_H
#define TEST_ARCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* llama.cpp's first 8 logits at one position (recorded with bench/llama_logits_node.mjs). */
struct arch_logits {
    int pos;
    float logits[8];
};

/* dir/corpus.txt tokenized with BOS by the model's own tokenizer (malloc'd; *n its length).
 * Asserts the folder opens and the tokenizer builds. */
int32_t *arch_corpus_ids(const char *dir, int64_t *n);

/* model_forward of ids[0..63] on dir's model (every weight fp32): each logit of want within
 * tol of llama.cpp's. */
void arch_expect_logits(const char *dir, const int32_t *ids, const struct arch_logits *want, size_t n_want, float tol);

/* Converts dir to Q4_0 with --method gptq and awq (and rtn, unless rtn_file names an existing
 * plain-rounding conversion) on 8 windows of 64 of its corpus, verifies all three against the
 * folder, and expects GPTQ's and AWQ's mean KLD below RTN's. */
void arch_expect_calibrated_beat_rtn(const char *dir, const char *rtn_file);

#endif
