/* mix.h — llama-quantize's per-tensor type rules for its file types ("mixes").
 *
 * mix_tensor_type() is llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for the
 * llama family, restricted to the types ingot writes: the output and token embedding
 * rules, attn_v / ffn_down with use_more_bits (and IQ4_NL / IQ4_XS's Q5_K for attn_v when
 * n_gqa >= 4 and for the first eighth of ffn_down without an imatrix), attn_output, and the
 * fallback when a row
 * is not a whole number of blocks (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K ->
 * IQ4_NL, then F16). Counters i_attention_wv and i_ffn_down advance in tensor order, as
 * llama-quantize's do, so tensors must be planned in the order they are written.
 */
#ifndef MIX_H
#define MIX_H

#include <stdbool.h>
#include <stdint.h>

struct mix_state {
    int ftype;                /* llama_ftype (gguf_meta.h) */
    int default_type;         /* the ftype's base ggml type */
    int64_t n_gqa;            /* n_head / n_head_kv */
    bool has_output;          /* the model has its own output.weight */
    bool has_imatrix;
    int64_t n_attention_wv, i_attention_wv;
    int64_t n_ffn_down, i_ffn_down;
    int64_t n_expert;         /* experts per block (mixtral), 0 for a dense model */
    int64_t n_fallback;       /* tensors that took a fallback type */
    int fallback_from;        /* after mix_tensor_type: the type the rules chose when its
                                 blocks did not fit the row and a fallback was taken, else -1 */
};

/* The ggml type llama-quantize gives tensor name with row length ne0. */
int mix_tensor_type(struct mix_state *s, const char *name, int64_t ne0);

/* llama.cpp's use_more_bits(i, n): the first and last eighth, and every third in between. */
bool mix_use_more_bits(int64_t i, int64_t n);

#endif /* MIX_H */
