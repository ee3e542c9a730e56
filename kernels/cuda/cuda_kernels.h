/* cuda_kernels.h — the host launchers of kernels/cuda/, callable from C.
 *
 * Each launcher checks its preconditions, launches on `stream` (a cudaStream_t, or NULL for the
 * default stream) and returns 0 or a negative IG_E... code with a message. Pointers named d_*
 * are device memory; results are complete once the stream is synchronized. Three builds
 * provide these names:
 *   - nvcc (make with nvcc found; libingot-cuda.a): the GPU.
 *   - kernels/cuda/cuda_stubs.c (no nvcc): every launcher returns IG_ENODEV ("built without
 *     CUDA"), so callers carry no #ifdef.
 *   - the host-C++ shim (kernels/cuda/shim.h, tests only): the same kernels on CPU threads,
 *     under the names below prefixed shim_ (define IG_CUDA_SHIM_API before including this
 *     header to call them), so one test binary can hold both the shim and the GPU builds.
 * The arithmetic each kernel must reproduce, and how exactly, is stated at its launcher.
 */
#ifndef IG_CUDA_KERNELS_H
#define IG_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#if defined(IG_CUDA_SHIM) || defined(IG_CUDA_SHIM_API)
#define cuda_device_count shim_cuda_device_count
#define cuda_malloc shim_cuda_malloc
#define cuda_free shim_cuda_free
#define cuda_upload shim_cuda_upload
#define cuda_download shim_cuda_download
#define cuda_synchronize shim_cuda_synchronize
#define cuda_quantize_supports shim_cuda_quantize_supports
#define cuda_quantize_rows shim_cuda_quantize_rows
#define cuda_dequantize_rows shim_cuda_dequantize_rows
#define cuda_rms_norm shim_cuda_rms_norm
#define cuda_rope shim_cuda_rope
#define cuda_swiglu shim_cuda_swiglu
#define cuda_attention_rows shim_cuda_attention_rows
#define cuda_expf_array shim_cuda_expf_array
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the device ------------------------------------------------------------------------ */

/* The number of CUDA devices this process can use: 0, with a message saying why (built
 * without CUDA, no driver, no device), when there is none. Never fails otherwise. */
int cuda_device_count(void);

/* Device memory for callers in C (memory.cu). cuda_malloc: *d_ptr = size_bytes of device
 * memory (0 bytes gives a valid, unusable pointer), or IG_ENOMEM/IG_ENODEV with a message.
 * cuda_free accepts NULL. cuda_upload / cuda_download copy size_bytes between host and
 * device and wait for the copy. cuda_synchronize waits for the device. Each returns 0 or
 * IG_ENODEV. */
int cuda_malloc(void **d_ptr, size_t size_bytes);
void cuda_free(void *d_ptr);
int cuda_upload(void *d_dst, const void *src, size_t size_bytes);
int cuda_download(void *dst, const void *d_src, size_t size_bytes);
int cuda_synchronize(void);

/* ---- quantizers (quantize.cu): one block, or k-quant super-block, per thread ------------- */

/* Whether cuda_quantize_rows / cuda_dequantize_rows handle type_id (a GGML_TYPE_* id):
 * Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL Q2_K Q3_K Q4_K Q5_K Q6_K NF4 NF4_F16 I4_G* I8_G*. */
int cuda_quantize_supports(int type_id);

/* Quantize d_x [n_rows][n_cols] (fp32, row-major) into d_y, n_rows rows of
 * quant_row_size_bytes(type, n_cols) bytes each, exactly the bytes of the type's reference
 * quantize_row_ref applied row by row (the same IG_HD block functions compiled for the
 * device). d_imatrix is NULL or [n_cols] importance weights shared by every row, as the
 * reference's imatrix argument. Returns 0; IG_EINVAL for an unsupported type, n_cols not a
 * whole number of blocks or negative sizes, or, for NF4 and the INT groups, a non-finite
 * weight or a scale past fp16 (the message names the first such block; d_y is then
 * incomplete); IG_ENODEV or IG_ENOMEM when CUDA fails. Synchronizes the stream. */
int cuda_quantize_rows(int type_id, const float *d_x, void *d_y, int64_t n_rows, int64_t n_cols,
                       const float *d_imatrix, void *stream);

/* Dequantize n_rows rows of n_cols elements of type_id at d_src into d_y [n_rows][n_cols]:
 * the reference dequantize_row_ref's floats, bit for bit. Returns 0, IG_EINVAL (type or
 * shape) or IG_ENODEV. Does not synchronize. */
int cuda_dequantize_rows(int type_id, const void *d_src, float *d_y, int64_t n_rows, int64_t n_cols, void *stream);

/* ---- forward-pass operations (ops.cu), mirroring kernels/cpu/cpu_ops.c ---------------------- */

/* backend.h's rms_norm on d_x [n][dim] into d_out (may equal d_x): the sum of squares in
 * double, in order, by one thread per row, so the bits equal the CPU backend's. */
int cuda_rms_norm(const float *d_x, int64_t n, int64_t dim, const float *d_w, float eps, float *d_out,
                  void *stream);

/* backend.h's rope on d_x [n][n_head][head_dim] in place. The rotation table (cos, sin per
 * position and pair) is computed on the host with the CPU backend's det_math functions, in the
 * CPU's order, and uploaded; the kernel applies it. Bits equal the CPU backend's. mode is
 * enum rope_mode. freq_factors is a HOST pointer ([n_rot / 2]) or NULL; mscale multiplies cos and sin. */
int cuda_rope(float *d_x, int64_t n, int64_t n_head, int64_t head_dim, int64_t n_rot, int64_t pos0, float theta_base,
              float freq_scale, const float *freq_factors, float mscale, int mode, void *stream);

/* backend.h's swiglu: d_gate[i] = d_gate[i] / (1 + det_expf(-d_gate[i])) * d_up[i]. Bits
 * equal the CPU backend's (det_expf's double arithmetic on the device, table uploaded from
 * kernels/cpu/det_math.c). */
int cuda_swiglu(float *d_gate, const float *d_up, int64_t n, void *stream);

/* d_y[i] = det_expf(d_x[i]) for i < n (the device copy of det_expf, for its tests). */
int cuda_expf_array(const float *d_x, float *d_y, int64_t n, void *stream);

/* backend.h's attention_rows (no soft cap, no window): causal attention of rows pos0 ..
 * pos0 + n_new - 1 over cached keys and values, one CUDA block per (row, head); the figures
 * of kernels/cpu/det_attention.h (fma chains from +0 in key / component order, det_expf, the
 * normaliser summed in double in key order), so the bits equal det_attention_rows_ref's
 * (finite inputs; a NaN score may pick a different max than the CPU's ordered scan).
 * n_head must be a multiple of n_head_kv. */
int cuda_attention_rows(const float *d_q, const float *d_k, const float *d_v, int64_t pos0, int64_t n_new,
                        int64_t n_head, int64_t n_head_kv, int64_t head_dim, float *d_out, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* IG_CUDA_KERNELS_H */
