/* ig_hd.h — one source for host and device: the qualifier that makes a function callable
 * from both, and the few helpers such functions need on both sides.
 *
 * The reference quantizers and dequantizers of quantizers/ are written once, as IG_HD inline
 * functions in headers (quantizers/..._block.h). The C build sees plain `static inline`
 * functions; nvcc (the .cu files of kernels/cuda/) compiles the same text for the host and the device,
 * so a GPU kernel that runs one block per thread writes the CPU's bytes by construction,
 * provided the device code is built without FMA contraction and with IEEE division and
 * square root (-fmad=false --prec-div=true --prec-sqrt=true -ftz=false, see the Makefile).
 * The host-C++ shim (kernels/cuda/shim.h) compiles the .cu files with g++, where IG_HD is
 * empty again. What these headers may use: C that is also C++ (no compound literals,
 * designated initializers, VLAs or `restrict`; casts from void * spelled out), <math.h>
 * functions CUDA provides for the device (fabsf, sqrtf, roundf), memcpy/memset.
 */
#ifndef IG_HD_H
#define IG_HD_H

#include <stdint.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__CUDACC__)
#define IG_HD __host__ __device__
#else
#define IG_HD
#endif

/* The storage class of every shared helper: inlined where it is called, on either side. */
#define IG_HD_INLINE IG_HD static inline

/* A constant table both sides read: IG_HD_TABLE(int8_t, name, 16, {...}) at file scope in a
 * header, IG_HD_TABLE_AT(name, i) in an IG_HD function. nvcc gets two copies of the same
 * initializer, one in host memory and one in the device's constant memory (a host variable
 * cannot be read from device code); every other compiler gets the host copy only. */
#if defined(__CUDACC__)
#define IG_HD_TABLE(T, name, n, ...)                                                       \
    static const T name##_host[n] = __VA_ARGS__;                                            \
    static __constant__ const T name##_dev[n] = __VA_ARGS__
#else
#define IG_HD_TABLE(T, name, n, ...) static const T name##_host[n] = __VA_ARGS__
#endif
#if defined(__CUDA_ARCH__)
#define IG_HD_TABLE_AT(name, i) (name##_dev[i])
#else
#define IG_HD_TABLE_AT(name, i) (name##_host[i])
#endif

/* ---- float bits ----------------------------------------------------------------------- */

IG_HD_INLINE uint32_t ig_hd_f32_bits(float f)
{
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
#endif
}

IG_HD_INLINE float ig_hd_bits_f32(uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
#endif
}

/* isfinite(f) from its bits (the same answer; no overload questions in C++ or CUDA). */
IG_HD_INLINE int ig_hd_isfinite(float f)
{
    return (ig_hd_f32_bits(f) & 0x7f800000u) != 0x7f800000u;
}

#endif /* IG_HD_H */
