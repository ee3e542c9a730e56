/* det_act.h — gemma's element-wise functions with the same bits on every machine: tanh, the
 * tanh-approximated GELU of GeGLU, and logit soft-capping.
 *
 * Gemma 2 and 3 compute their feed-forward as gelu_tanh(W_gate·x) ⊙ W_up·x (GeGLU) and squash
 * attention scores (gemma2) and logits (gemma2, some gemma3) as c·tanh(s/c). glibc's tanhf has
 * the same run-time FMA/non-FMA choice as expf (det_math.h), so these go through det_exp in
 * double, with only +, −, ×, ÷ besides, and one rounding to float:
 *   tanh x    = sign(x)·(e − 1)/(e + 1), e = e^{2|x|}   (|x| >= 2^-13; below, x − x³/3)
 *   gelu_t x  = x / (1 + e^{−2u}), u = √(2/π)·x·(1 + 0.044715·x²)
 *                (= ½x(1 + tanh u) without the cancellation of 1 + tanh u for x ≪ 0)
 *   softcap x = c · tanh(x · (1/c)), each step rounded to float as ggml's scale, tanh, scale
 * Each result is within 1 ulp of the true value (tests/kernels/test_det_act.c). llama.cpp's CPU
 * GELU reads a table of fp16 inputs (GGML_GELU_FP16); ingot keeps the exact function, HF's, so
 * its logits differ from llama.cpp's by that rounding, far inside the verifier's tolerance.
 */
#ifndef DET_ACT_H
#define DET_ACT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* tanh x; ±1 for |x| >= 20 (float tanh rounds to ±1 from 9.02 on), ±0 for ±0, NaN for NaN. */
float det_tanhf(float x);

/* GELU with the tanh approximation (PyTorch's gelu(approximate="tanh"), HF's gelu_pytorch_tanh). */
float det_gelu_tanhf(float x);

/* cap · tanh(x · (1/cap)) for cap > 0. */
float det_softcapf(float x, float cap);

/* gate[i] = det_gelu_tanhf(gate[i]) · up[i] for i < n (GeGLU); parallel over blocks of elements,
 * each element by one thread, so the bits do not depend on the thread count. */
void det_geglu(float *gate, const float *up, int64_t n);

/* x[i] = det_softcapf(x[i], cap) for i < n, the same way. */
void det_softcap(float *x, int64_t n, float cap);

#ifdef __cplusplus
}
#endif

#endif /* DET_ACT_H */
