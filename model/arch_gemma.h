/* arch_gemma.h — what a gemma2 / gemma3 block computes beyond llama's, per block.
 *
 * Gemma's forward pass is llama's (model/llama.c) with these differences, all from
 * llama.cpp's src/models/gemma2-iswa.cpp and gemma3.cpp:
 *   x = embed(tokens) · √n_embd                                    (sqrtf of the float n_embd)
 *   block: h = x + rms_norm(Wo·attn(...))·post_attention_norm
 *          x' = h + rms_norm(Wdown·(gelu_tanh(Wgate·n2) ⊙ Wup·n2))·post_ffw_norm
 *   attention scores (q·k)·query_scale, soft-capped c·tanh(s/c) (gemma2), within a sliding
 *   window on the sliding blocks, whose RoPE base is rope_theta_swa, unscaled (gemma3)
 *   logits = c·tanh(output(rms_norm(x)) / c) when final_softcap c > 0
 * The norms' weights are GGUF's (1 + w already: formats/gemma_arch.h). This file holds the
 * per-block choices, so llama.c asks one function instead of testing the architecture.
 */
#ifndef MODEL_ARCH_GEMMA_H
#define MODEL_ARCH_GEMMA_H

#include "../formats/model_src.h"
#include "../kernels/backend.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Whether block l attends within hp->sliding_window only: swa_pattern > 0, a window, and
 * l % swa_pattern < swa_pattern - 1 (llama.cpp's set_swa_pattern). */
bool model_block_slides(const struct model_hparams *hp, int64_t l);

/* Block l's attention: *o the score scale, soft cap and window (all 0 for a llama-family
 * model, which attention_rows_ext then computes as attention_rows), *rope_base its RoPE base
 * and *rope_scaled whether the model's RoPE scaling (linear factor, rope_freqs) applies to it:
 * not on gemma3's sliding blocks, which use rope_theta_swa unscaled. */
void model_block_attn(const struct model_hparams *hp, int64_t l, struct backend_attn_opts *o, float *rope_base,
                      bool *rope_scaled);

/* Whether o asks for anything beyond plain attention. */
bool model_attn_opts_any(const struct backend_attn_opts *o);

/* gemma's embedding scale: √n_embd as llama.cpp's ggml_scale(inpL, sqrtf(n_embd)). */
float gemma_embd_scale(const struct model_hparams *hp);

#ifdef __cplusplus
}
#endif

#endif /* MODEL_ARCH_GEMMA_H */
