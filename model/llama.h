/* llama.h — the llama-family forward pass (Llama 1/2/3, Mistral, TinyLlama, SmolLM,
 * llama2.c stories, and qwen2 with q/k/v biases), block by block.
 *
 * A window of n tokens is evaluated at once with full causal attention (no KV cache
 * across windows: perplexity and calibration both work on independent windows):
 *   x = embed(tokens)                                   model_embed
 *   for each block l: x = block_l(x)                    model_block_forward  (calib/ stops here)
 *   logits = output(rms_norm(x))                        model_output
 * block: h = x + Wo·attn(rope(Wq·n1), rope(Wk·n1), Wv·n1),  n1 = rms_norm(x)·attn_norm
 *        x' = h + Wdown·(silu(Wgate·n2) ⊙ Wup·n2),        n2 = rms_norm(h)·ffn_norm
 * Weights are fp32; where they come from (dequantization of any ggml type) is the
 * caller's business, through a fetch callback, so model/ never depends on quantizers/.
 * model_create makes every weight resident; model_create_streamed only the embeddings and
 * the final norm, and the blocks come and go with model_layer_load / model_layer_release,
 * so calib/ holds one block's weights at a time.
 */
#ifndef MODEL_LLAMA_H
#define MODEL_LLAMA_H

#include "../formats/model_src.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fill dst (ne[0] * rows floats) with tensor t as fp32. Returns 0 or an IG_E code. */
typedef int (*model_fetch_fn)(void *ctx, const struct src_tensor *t, float *dst);

struct model;
struct model_ctx;

/* Build the model from src's hyperparameters and tensors, fetching each weight as fp32.
 * Returns 0, or IG_EINVAL naming a missing tensor or an unsupported architecture. */
int model_create(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx);
void model_destroy(struct model *m);

/* The same model with no block loaded and no output projection: token_embd and
 * output_norm only. src and fetch_ctx must outlive it. model_output and model_forward
 * are not available on it (model_forward returns IG_EINVAL). */
int model_create_streamed(struct model **out, const struct model_src *src, model_fetch_fn fetch, void *fetch_ctx);

/* Fetch block l's weights if they are not resident (model_create's are). Returns 0 or
 * the fetch's error. model_block_forward and model_tensor_data need the block loaded. */
int model_layer_load(struct model *m, int64_t l);

/* Free block l's weights on a streamed model; does nothing on a resident one. */
void model_layer_release(struct model *m, int64_t l);

const struct model_hparams *model_hparams(const struct model *m);

/* Whether the model's RoPE is scaled (linear scaling or a rope_freqs.weight tensor), which
 * model_block_forward applies and a caller reimplementing the block must too. */
bool model_rope_scaled(const struct model *m);

/* The resident fp32 data of tensor name ("blk.3.attn_q.weight", "output_norm.weight", ...),
 * writable, so calib/ can fold AWQ scales and put quantized weights back; sets *n_elems.
 * NULL if the model has no such tensor. */
float *model_tensor_data(struct model *m, const char *name, int64_t *n_elems);

/* The inputs of a block's linear layers, in the order the block computes them. */
enum model_linear_input {
    MODEL_IN_ATTN = 0,       /* attn_q, attn_k, attn_v: rms_norm(x)·attn_norm */
    MODEL_IN_ATTN_OUT = 1,   /* attn_output: the attention result */
    MODEL_IN_FFN = 2,        /* ffn_gate, ffn_up: rms_norm(h)·ffn_norm */
    MODEL_IN_FFN_DOWN = 3,   /* ffn_down: silu(gate) ⊙ up */
};

/* Called with each linear input X [n][dim] as the block computes it (calib/ accumulates
 * statistics from it). X is only valid during the call. Returns 0, or an IG_E... code that
 * model_block_forward stops on and returns (with the message the function recorded). */
typedef int (*model_capture_fn)(void *ctx, int64_t layer, enum model_linear_input which, const float *X, int64_t n,
                                 int64_t dim);

/* Scratch buffers for windows of up to n_max tokens. */
int model_ctx_create(struct model_ctx **out, const struct model *m, int64_t n_max);
void model_ctx_destroy(struct model_ctx *c);

/* Have model_block_forward report every linear input to fn (NULL to stop). */
void model_ctx_set_capture(struct model_ctx *c, model_capture_fn fn, void *fn_ctx);

/* x[n][n_embd] = embedding rows of tokens; IG_EINVAL if a token id is out of range. */
int model_embed(const struct model *m, const int32_t *tokens, int64_t n, float *x);

/* Run block `layer` in place on x[n][n_embd] (positions 0..n-1), on backend_active().
 * Returns 0, or the backend's or the capture function's error (IG_ENOMEM). */
int model_block_forward(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n);

/* logits[n][n_vocab] for the n rows of x (final norm, then the output projection).
 * x is not modified. Returns 0 or the backend's error (IG_ENOMEM). */
int model_output(const struct model *m, struct model_ctx *c, const float *x, int64_t n, float *logits);

/* The whole window: embed, every block, then logits for rows [first, n) only:
 * logits is [n - first][n_vocab]. Returns 0 or IG_EINVAL (bad token). */
int model_forward(const struct model *m, struct model_ctx *c, const int32_t *tokens, int64_t n, int64_t first,
                  float *logits);

#ifdef __cplusplus
}
#endif

#endif /* MODEL_LLAMA_H */
