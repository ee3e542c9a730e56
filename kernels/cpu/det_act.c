/* det_act.c — tanh, tanh-GELU and soft-capping from det_exp (see det_act.h).
 *
 * The double evaluation carries ~1e-16 relative error (det_exp's few ulp, then a handful of
 * correctly rounded operations), far below half a float ulp (3e-8), so the one rounding to
 * float gives the correctly rounded result except within 1e-8 of a tie: within 1 ulp always.
 */
#include "det_act.h"

#include "det_math.h"

#include <math.h>
#include <omp.h>

/* Below this many elements a loop stays on one thread. */
#define ACT_PARALLEL_MIN (1 << 16)

/* √(2/π) and GELU's cubic coefficient, as PyTorch and ggml spell them. */
#define GELU_SQRT_2_OVER_PI 0.79788456080286535587989211986876
#define GELU_COEF_A 0.044715

/* tanh in double for |x| < 20: e^{2|x|} <= e^40, no overflow. Below 2^-13 the (e − 1) of the
 * formula would lose up to 13 bits to cancellation; there x − x³/3 is exact to 2x⁵/15, a relative
 * 1e-17. */
static double tanh_double(double x)
{
    const double a = fabs(x);
    if (a < 0x1p-13)
        return x * (1.0 - x * x / 3.0);   /* keeps the sign of ±0 */
    const double e = det_exp(2.0 * a);
    const double t = (e - 1.0) / (e + 1.0);
    return x < 0 ? -t : t;
}

float det_tanhf(float x)
{
    if (isnan(x))
        return x + x;
    if (x >= 20.0f)
        return 1.0f;
    if (x <= -20.0f)
        return -1.0f;
    return (float)tanh_double((double)x);
}

float det_gelu_tanhf(float x)
{
    if (isnan(x))
        return x + x;
    const double d = (double)x;
    const double u = GELU_SQRT_2_OVER_PI * d * (1.0 + GELU_COEF_A * d * d);
    /* x·½(1 + tanh u) = x / (1 + e^{−2u}); for x → −∞ the exponential is +Inf and the quotient −0,
     * for x → +∞ it is 0 and the quotient x */
    return (float)(d / (1.0 + det_exp(-2.0 * u)));
}

float det_softcapf(float x, float cap)
{
    /* ggml_scale(1/c), ggml_tanh, ggml_scale(c): three float roundings */
    const float inv = 1.0f / cap;
    return det_tanhf(x * inv) * cap;
}

void det_geglu(float *gate, const float *up, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        gate[i] = det_gelu_tanhf(gate[i]) * up[i];
}

void det_softcap(float *x, int64_t n, float cap)
{
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++)
        x[i] = det_softcapf(x[i], cap);
}
