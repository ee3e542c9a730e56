/* arch_gemma.c — per-block attention settings (see arch_gemma.h). */
#include "arch_gemma.h"

#include <math.h>

bool model_block_slides(const struct model_hparams *hp, int64_t l)
{
    return hp->swa_pattern > 0 && hp->sliding_window > 0 && l % hp->swa_pattern < hp->swa_pattern - 1;
}

void model_block_attn(const struct model_hparams *hp, int64_t l, struct backend_attn_opts *o, float *rope_base,
                      bool *rope_scaled)
{
    const bool slides = model_block_slides(hp, l);
    o->scale = hp->query_scale;
    o->softcap = hp->attn_softcap;
    o->window = slides ? hp->sliding_window : 0;
    /* llama_model::get_rope_freq_base/scale: the _swa values on sliding blocks */
    const bool own_base = slides && hp->rope_theta_swa > 0;
    *rope_base = own_base ? hp->rope_theta_swa : hp->rope_theta;
    *rope_scaled = !own_base;
}

bool model_attn_opts_any(const struct backend_attn_opts *o)
{
    return o->scale != 0.0f || o->softcap > 0.0f || o->window > 0;
}

float gemma_embd_scale(const struct model_hparams *hp)
{
    return sqrtf((float)hp->n_embd);
}
