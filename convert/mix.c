/* mix.c — llama_tensor_get_type for the llama family (see mix.h). The branch order follows
 * llama.cpp's so that each rule can be checked against it line by line. */
#include "mix.h"

#include "../formats/ggml_type.h"
#include "../formats/gguf_meta.h"

#include <string.h>

bool mix_use_more_bits(int64_t i, int64_t n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int64_t block_elems(int type)
{
    const struct ggml_type_info *t = ggml_type_info_get(type);
    return t ? t->block_elems : 1;
}

static int output_type(const struct mix_state *s, int type, int64_t ne0)
{
    if (ne0 % block_elems(type) != 0)
        return GGML_TYPE_Q8_0;
    return type != GGML_TYPE_Q8_0 ? GGML_TYPE_Q6_K : type;
}

static int attn_v_type(struct mix_state *s, int type)
{
    const int f = s->ftype;
    const int64_t i = s->i_attention_wv, n = s->n_attention_wv;
    if (f == LLAMA_FTYPE_MOSTLY_Q2_K)
        type = s->n_gqa >= 4 ? GGML_TYPE_Q4_K : GGML_TYPE_Q3_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q3_K_M)
        type = i < 2 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q3_K_L)
        type = GGML_TYPE_Q5_K;
    else if ((f == LLAMA_FTYPE_MOSTLY_IQ4_NL || f == LLAMA_FTYPE_MOSTLY_IQ4_XS) && s->n_gqa >= 4)
        type = GGML_TYPE_Q5_K;
    else if ((f == LLAMA_FTYPE_MOSTLY_Q4_K_M || f == LLAMA_FTYPE_MOSTLY_Q5_K_M) && mix_use_more_bits(i, n))
        type = GGML_TYPE_Q6_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q4_K_S && i < 4)
        type = GGML_TYPE_Q5_K;
    if (s->n_expert == 8)   /* llama-quantize: Mixtral-8x's attention values get 8 bits */
        type = GGML_TYPE_Q8_0;
    s->i_attention_wv++;
    return type;
}

static int ffn_down_type(struct mix_state *s, int type)
{
    const int f = s->ftype;
    const int64_t i = s->i_ffn_down, n = s->n_ffn_down;
    if (f == LLAMA_FTYPE_MOSTLY_Q2_K)
        type = GGML_TYPE_Q3_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q3_K_M)
        type = i < n / 16 ? GGML_TYPE_Q5_K : GGML_TYPE_Q4_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q3_K_L)
        type = GGML_TYPE_Q5_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q4_K_M) {
        if (mix_use_more_bits(i, n))
            type = GGML_TYPE_Q6_K;
    } else if (i < n / 8 && (f == LLAMA_FTYPE_MOSTLY_IQ4_NL || f == LLAMA_FTYPE_MOSTLY_IQ4_XS) && !s->has_imatrix)
        type = GGML_TYPE_Q5_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q5_K_M && mix_use_more_bits(i, n))
        type = GGML_TYPE_Q6_K;
    else if (f == LLAMA_FTYPE_MOSTLY_Q4_K_S && i < n / 8)
        type = GGML_TYPE_Q5_K;
    else if ((f == LLAMA_FTYPE_MOSTLY_Q4_0 || f == LLAMA_FTYPE_MOSTLY_Q5_0) && s->has_imatrix && i < n / 8)
        type = f == LLAMA_FTYPE_MOSTLY_Q4_0 ? GGML_TYPE_Q4_1 : GGML_TYPE_Q5_1;
    s->i_ffn_down++;
    return type;
}

static int attn_output_type(const struct mix_state *s, int type)
{
    if (s->n_expert == 8) {   /* llama-quantize: Mixtral-8x's attention output gets Q5_K in the low mixes */
        const int f = s->ftype;
        bool low = f == LLAMA_FTYPE_MOSTLY_Q2_K || f == LLAMA_FTYPE_MOSTLY_Q3_K_S || f == LLAMA_FTYPE_MOSTLY_Q3_K_M ||
                   f == LLAMA_FTYPE_MOSTLY_IQ4_NL || f == LLAMA_FTYPE_MOSTLY_Q4_K_S || f == LLAMA_FTYPE_MOSTLY_Q4_K_M ||
                   f == LLAMA_FTYPE_MOSTLY_IQ4_XS;
        return low ? GGML_TYPE_Q5_K : type;
    }
    switch (s->ftype) {
    case LLAMA_FTYPE_MOSTLY_Q2_K: return GGML_TYPE_Q3_K;
    case LLAMA_FTYPE_MOSTLY_Q3_K_M: return GGML_TYPE_Q4_K;
    case LLAMA_FTYPE_MOSTLY_Q3_K_L: return GGML_TYPE_Q5_K;
    default: return type;
    }
}

/* Rows that are not whole blocks of the chosen type take llama.cpp's fallback. */
static int fallback(struct mix_state *s, int type, int64_t ne0)
{
    s->fallback_from = -1;
    if (ne0 % block_elems(type) == 0)
        return type;
    s->fallback_from = type;
    switch (type) {
    case GGML_TYPE_Q2_K:
    case GGML_TYPE_Q3_K:
    case GGML_TYPE_IQ4_XS: type = GGML_TYPE_IQ4_NL; break;
    case GGML_TYPE_Q4_K: type = GGML_TYPE_Q5_0; break;
    case GGML_TYPE_Q5_K: type = GGML_TYPE_Q5_1; break;
    case GGML_TYPE_Q6_K: type = GGML_TYPE_Q8_0; break;
    default: break;
    }
    if (ne0 % block_elems(type) != 0)
        type = GGML_TYPE_F16;
    s->n_fallback++;
    return type;
}

int mix_tensor_type(struct mix_state *s, const char *name, int64_t ne0)
{
    int type = s->default_type;
    bool is_output = strcmp(name, "output.weight") == 0;
    bool is_embd = strcmp(name, "token_embd.weight") == 0;
    if (is_output || (is_embd && !s->has_output))
        type = output_type(s, type, ne0);
    else if (is_embd)
        ; /* the default type, for every mix ingot writes */
    else if (strstr(name, "attn_v.weight") || strstr(name, "attn_qkv.weight"))   /* phi3's fused qkv: attn_v's rules */
        type = attn_v_type(s, type);
    else if (strstr(name, "attn_k.weight") && s->n_expert == 8)   /* so do its keys */
        type = GGML_TYPE_Q8_0;
    else if (strstr(name, "ffn_down"))
        type = ffn_down_type(s, type);
    else if (strstr(name, "attn_output.weight"))
        type = attn_output_type(s, type);
    return fallback(s, type, ne0);
}
