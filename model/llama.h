/* llama.h — the llama-family forward pass (Llama 1/2/3, Mistral, TinyLlama, SmolLM,
 * llama2.c stories, qwen2 with q/k/v biases, qwen3 with per-head q/k RMSNorm, phi3 with fused
 * attn_qkv and gate/up, mixtral's sparse MoE feed-forward (moe.h), gemma), block by block.
 *
 * A window of n tokens is evaluated at once with full causal attention (no KV cache
 * across windows: perplexity and calibration both work on independent windows):
 *   x = embed(tokens)                                   model_embed
 *   for each block l: x = block_l(x)                    model_block_forward  (calib/ stops here)
 *   logits = output(rms_norm(x))                        model_output
 * block: h = x + Wo·attn(rope(Wq·n1), rope(Wk·n1), Wv·n1),  n1 = rms_norm(x)·attn_norm
 *        x' = h + Wdown·(silu(Wgate·n2) ⊙ Wup·n2),        n2 = rms_norm(h)·ffn_norm
 * gemma2 / gemma3 add to this block (model/arch_gemma.h): embeddings · √n_embd, GeGLU, the
 * post-attention and post-FFN norms, soft-capped scores and logits, per-block sliding windows
 * and RoPE bases.
 * Weights are fp32; where they come from (dequantization of any ggml type) is the
 * caller's business, through a fetch callback, so model/ never depends on quantizers/.
 * model_create makes every weight resident; model_create_streamed only the embeddings and
 * the final norm, and the blocks come and go with model_layer_load / model_layer_release,
 * so calib/ holds one block's weights at a time. model_create_packed keeps every weight
 * matrix as the file's bytes (a view into the source mapping): a product dequantizes a tile
 * of rows at a time through the backend's matmul_rows (the same bits as the fp32 matrix), the
 * embedding reads one row per token, and releasing a block gives its file pages back, so
 * verify/ and imatrix hold one block's packed bytes and a few tiles.
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

/* Fill dst ([n_rows][ne[0]] floats) with rows row0 .. row0 + n_rows - 1 of t as fp32, refusing
 * non-finite values. Returns 0 or an IG_E code. Called from several threads at once. */
typedef int (*model_rows_fn)(void *ctx, const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);

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

/* The same streamed model with packed weights: token_embd, output (or the tied embedding) and
 * each block's matrices stay src's bytes, read through rows a tile at a time (tensor_f32.h's
 * tensor_rows_f32_checked); norms and biases are fp32 while their block is loaded.
 * model_output works; model_forward does not (IG_EINVAL); model_tensor_data gives norms and
 * biases only. src must outlive the model. */
int model_create_packed(struct model **out, const struct model_src *src, model_rows_fn rows, void *rows_ctx);

/* Whether m came from model_create_packed. */
bool model_is_packed(const struct model *m);

/* How a packed model multiplies its quantized weights (`ingot verify --matmul`). */
enum model_matmul {
    MODEL_MATMUL_FP32 = 0,   /* dequantized tiles through the fp32 GEMM (the default) */
    MODEL_MATMUL_Q8 = 1,     /* llama.cpp's CPU arithmetic where the backend has a kernel for the
                              * type (backend.h matmul_q8); other types stay fp32 */
};

/* Set how m's packed weights are multiplied (no effect on a resident or streamed fp32 model). */
void model_set_matmul(struct model *m, enum model_matmul mode);

/* Whether tensor t of m is multiplied by matmul_q8 (q8 mode, packed, a type with a kernel). */
bool model_weight_q8(const struct model *m, const struct src_tensor *t);

/* Bytes of block l's tensors in the source file (l < 0: the output projection, or the tied
 * embedding), for sizing a memory budget. */
uint64_t model_block_size_bytes(const struct model *m, int64_t l);

/* Fetch block l's weights if they are not resident (model_create's are). Returns 0 or
 * the fetch's error. model_block_forward and model_tensor_data need the block loaded. */
int model_layer_load(struct model *m, int64_t l);

/* Free block l's weights on a streamed model (and give back the file pages a packed block
 * touched); does nothing on a resident one. */
void model_layer_release(struct model *m, int64_t l);

const struct model_hparams *model_hparams(const struct model *m);

/* Whether the model's RoPE is scaled (linear scaling or a rope_freqs.weight tensor), which
 * model_block_forward applies and a caller reimplementing the block must too. */
bool model_rope_scaled(const struct model *m);

/* The window length (tokens per sequence) m runs with, llama.cpp's n_ctx / n_seq: phi3's
 * longrope divides RoPE's frequencies by rope_factors_long when it exceeds rope.scaling.
 * original_context_length, else (and while it is not set) by rope_factors_short. verify,
 * imatrix and calibrated convert set it to their --ctx / --seq-len. */
void model_set_ctx_len(struct model *m, int64_t n_ctx);

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
    /* mixtral: MODEL_IN_EXPERT + 2e is expert e's gate/up input (the rows routed to it of
     * rms_norm(h)·ffn_norm, in row order), MODEL_IN_EXPERT + 2e + 1 its down input; the router
     * (ffn_gate_inp) sees MODEL_IN_FFN */
    MODEL_IN_EXPERT = 16,
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

/* The same for n_seq sequences of n tokens each, x [n_seq][n][n_embd] (each at positions
 * 0..n-1), c made for at least n_seq·n rows: every sequence's result is model_block_forward's
 * on it alone, bit for bit; the capture function sees each sequence's inputs separately, in
 * order. Returns as model_block_forward, or IG_EINVAL (block not loaded, scratch too small). */
int model_block_forward_batch(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_seq,
                              int64_t n);

/* Block `layer` on the rows of one sequence at positions pos0 .. pos0 + n_new - 1, x [n_new][n_embd]
 * in place, attending to the cached keys (after RoPE) and values of positions 0 .. pos0 - 1 in
 * k_cache / v_cache ([pos0 + n_new][n_head_kv·head_dim], caller-owned) and to themselves; their own
 * keys and values are written at rows pos0 .. of the caches. The backend operations are
 * model_block_forward's, in its order (model_block_forward is this with pos0 = 0 and the keys in
 * scratch), on resident and packed weights alike, so each row equals that row of
 * model_block_forward on the whole sequence, bit for bit. c needs n_max >= n_new. Returns as
 * model_block_forward, or IG_EINVAL (block not loaded, scratch too small). */
int model_block_forward_rows(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_new,
                             int64_t pos0, float *k_cache, float *v_cache);

/* One sequence's rows in model_block_forward_seqs. */
struct model_seq {
    int64_t n;                   /* rows: positions pos0 .. pos0 + n - 1 */
    int64_t pos0;
    float *k_cache, *v_cache;    /* borrowed, [pos0 + n][n_head_kv·head_dim]; or both NULL (pos0 = 0,
                                  * the rows attend only to each other) */
};

/* The general form: n_seq sequences back to back in x (sequence s's rows after those of
 * 0 .. s-1), each as model_block_forward_rows on it alone, bit for bit; the linear layers see all
 * rows at once (a packed weight is dequantized once per call). c needs n_max >= the total rows.
 * Returns as model_block_forward_rows, or IG_EINVAL naming a sequence that has pos0 > 0 and no cache. */
int model_block_forward_seqs(const struct model *m, struct model_ctx *c, int64_t layer, float *x, int64_t n_seq,
                             const struct model_seq *seq);

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
