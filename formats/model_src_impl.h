/* model_src_impl.h — the per-format openers behind model_src_open (formats/ only). */
#ifndef MODEL_SRC_IMPL_H
#define MODEL_SRC_IMPL_H

#include "model_src.h"

/* HF folder: config.json, then the tokenizer, then the safetensors. */
int hf_model_open(struct model_src *src, const char *folder);

/* GGUF file: hparams and vocab from its keys, tensors as stored. */
int gguf_model_open(struct model_src *src, const char *path);

#endif /* MODEL_SRC_IMPL_H */
