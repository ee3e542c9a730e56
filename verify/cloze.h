/* cloze.h — a small multiple-choice task that means something on tiny story models, built
 * deterministically from held-out text (e.g. examples/tl3m/eval.txt): last-word cloze.
 *
 * Candidates, in text order: every sentence (ending in '.', '!' or '?') of at least
 * CLOZE_MIN_WORDS words whose last word is 3..24 ASCII letters preceded by a space. The query
 * is the sentence up to that word (without the space), preceded by the earlier sentences of its
 * paragraph while the query stays within max_context_bytes; the answer is the word. Then, with
 * one mt19937(seed) stream (mt19937.h):
 *   1. if there are more than max_items candidates, a Fisher–Yates shuffle (j = uniform(i+1),
 *      i = n−1 .. 1) picks the first max_items, kept in text order;
 *   2. per item, in order: n_choices − 1 distractors, each the answer of candidate
 *      uniform(n_candidates), redrawn while it equals (ignoring case) the answer or an earlier
 *      choice; then the gold position uniform(n_choices), the answer inserted there.
 * Output: JSON lines {"query", "choices", "gold", "category"} (category = the answer in lower
 * case, so tiers rank answers by frequency), readable by task_set_load as an mc task.
 */
#ifndef VERIFY_CLOZE_H
#define VERIFY_CLOZE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CLOZE_MIN_WORDS 5

struct cloze_opts {
    uint32_t seed;
    int64_t max_items;          /* default 500 */
    int32_t n_choices;          /* default 4, at least 2 */
    int64_t max_context_bytes;  /* default 400 */
};

/* Build the JSON lines from text[0..n). On success *jsonl is a heap string (caller frees) and
 * *n_items the item count. Returns 0, IG_EINVAL (fewer than n_choices distinct answers, so no
 * item can have distinct choices) or IG_ENOMEM. */
int cloze_build(const char *text, size_t n, const struct cloze_opts *o, char **jsonl, int64_t *n_items);

#ifdef __cplusplus
}
#endif

#endif /* VERIFY_CLOZE_H */
