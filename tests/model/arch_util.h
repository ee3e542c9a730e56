/* arch_util.h — what the architecture tests (tests/model/test_arch_*.c) check the same way:
 * a seeded tiny model from `ingot synth` and its conversions, ingot's logits and `ingot verify`'s
 * figures on it against llama.cpp's recorded ones, and GPTQ/AWQ against round-to-nearest on it.
 * The golden figures and where they came from stay in each test; the tolerances, the same for
 * every architecture, are here. */
#ifndef TEST_ARCH_UTIL_H
#define TEST_ARCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* llama.cpp's first 8 logits at one position (recorded with bench/llama_logits_node.mjs). */
struct arch_logits {
    int pos;
    float logits[8];
};

/* In a fresh folder DIR (<tmp>/name): `ingot synth <synth_args> -o DIR` (synth_args NULL-terminated),
 * then `ingot convert DIR -o DIR/<files[i]> --type <types[i]> -q` for each of the n types. Asserts
 * that every run exits 0; returns DIR (static buffer: one model per test). */
const char *arch_synth_and_convert(const char *name, const char *const *synth_args, const char *const *types,
                                   const char *const *files, int n);

/* dir/corpus.txt tokenized with BOS by the model's own tokenizer (malloc'd; *n its length).
 * Asserts the folder opens and the tokenizer builds. */
int32_t *arch_corpus_ids(const char *dir, int64_t *n);

/* model_forward of ids[0..63] on dir's model (every weight fp32): each logit of want within
 * tol of llama.cpp's. */
void arch_expect_logits(const char *dir, const int32_t *ids, const struct arch_logits *want, size_t n_want, float tol);

/* dir's corpus as arch_corpus_ids gives it starts with BOS (id 1) then llama.cpp's first 8 ids, and
 * arch_expect_logits holds on that window. */
void arch_expect_bos_window(const char *dir, const int32_t first_ids[8], const struct arch_logits *want, size_t n_want,
                            float tol);

/* llama.cpp's figures for one quantized conversion, measured against the F32 one. */
struct arch_quant_golden {
    const char *file;      /* in the model folder */
    const char *type;      /* names its checks: "Q4_0" */
    double ppl, kld_mean;
    double same_top_pct;   /* 0: not checked */
};

/* `ingot verify DIR/f32 DIR/<q[0].file> ... --source DIR --eval DIR/corpus.txt --ctx ctx --threads 2`
 * against llama.cpp's figures at test_verify_cli.c's tolerances: the source's PPL within 0.1% of ppl
 * and its error within 1% of ppl_stderr; the F32 GGUF's PPL within 0.1% of ppl, its mean KLD below
 * 1e-9; each of q's PPL within 1% (llama.cpp rounds activations to 8 bits inside its dot
 * products), mean KLD within 5% and, when given, same top within 1%. */
void arch_expect_verify(const char *dir, const char *ctx, const char *f32, double ppl, double ppl_stderr,
                        const struct arch_quant_golden *q, size_t n_q);

/* Converts dir to Q4_0 with --method gptq and awq (and rtn, unless rtn_file names an existing
 * plain-rounding conversion) on 8 windows of 64 of its corpus, verifies all three against the
 * folder, and expects GPTQ's and AWQ's mean KLD below RTN's. */
void arch_expect_calibrated_beat_rtn(const char *dir, const char *rtn_file);

#endif
