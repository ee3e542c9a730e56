/* hf_moe.h — an HF Mixtral's per-expert linears stacked into llama.cpp's 3-D expert tensors
 * (formats/ only).
 *
 * A Mixtral checkpoint stores each expert's three linears on their own:
 *   model.layers.L.block_sparse_moe.experts.E.w1.weight  [n_ff, n_embd]   (gate)
 *   model.layers.L.block_sparse_moe.experts.E.w2.weight  [n_embd, n_ff]   (down)
 *   model.layers.L.block_sparse_moe.experts.E.w3.weight  [n_ff, n_embd]   (up)
 * llama.cpp's converter (LlamaModel.modify_tensors) stacks the n_expert matrices of one kind
 * along a new outer dimension, expert 0 first, and names the result
 *   blk.L.ffn_gate_exps.weight / ffn_down_exps.weight / ffn_up_exps.weight,
 * ggml shape [cols, rows, n_expert]; it yields the stack when its last part arrives, in the
 * checkpoint's tensor order. A stack here is a tensor read through hf_moe_read_rows_f32 (row r
 * is row r % rows of expert r / rows); its parts stay in the source mapping.
 */
#ifndef HF_MOE_H
#define HF_MOE_H

#include "model_src.h"
#include "safetensors.h"

#include <stdbool.h>
#include <stdint.h>

struct hf_moe;

/* Room for the stacks of n_layer blocks of n_expert experts. Returns 0 or IG_ENOMEM. */
int hf_moe_create(struct hf_moe **out, int64_t n_layer, int64_t n_expert);
void hf_moe_destroy(struct hf_moe *m);

/* Whether st is an expert part (by name). When it is, it is recorded: 0, with *complete true
 * and *t the stacked tensor when st was the last part of its stack; IG_EINVAL naming st for
 * a block or expert out of range, a part seen twice, or a shape or dtype unlike its stack's. */
bool hf_moe_is_part(const char *hf_name);
int hf_moe_take(struct hf_moe *m, const struct st_tensor *st, bool *complete, struct src_tensor *t);

/* src_tensor.read_rows_f32 of a stack, and the xxh3-64 of its parts' bytes in stack order. */
int hf_moe_read_rows_f32(const struct src_tensor *t, int64_t row0, int64_t n_rows, float *dst);
uint64_t hf_moe_xxh3(const void *aux);

#endif /* HF_MOE_H */
