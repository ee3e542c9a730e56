/* gptq.h — GPTQ (Frantar et al., 2022, "GPTQ: Accurate Post-Training Quantization for
 * Generative Pre-trained Transformers") onto any grid in the type table.
 *
 * For one linear layer W [m][n] (rows = outputs) and its input statistics H = XᵀX/N [n][n]:
 *   1. dead columns (H_jj = 0) are zeroed; H += damp · mean(diag H) · I; if the Cholesky
 *      factorisation fails, damp is multiplied by 10 and it is tried again (reported)
 *   2. U = chol(H⁻¹) (upper), the inverse Hessian's Cholesky factor (eq. 5 of the paper)
 *   3. columns are swept in blocks of 128 (lazy batch updates): each column is rounded to
 *      the nearest point of its grid, its error e = (w − q)/U_jj is propagated to the later
 *      columns of the block (w −= e·U_j,·), and to the rest of the matrix after the block
 *      with one GEMM.
 * The grid is the target type's: when the sweep reaches the first column of a block of the
 * type (32 elements; 256 for k-quants, whose sub-block scales are all fixed at that point),
 * the type's reference quantizer chooses the block's scales from the current, error-updated
 * values of that row, weighted by diag(H) as an importance matrix; each element is then
 * rounded on that fixed grid (quant_grid.h) and its code stored. With act-order the columns
 * are swept by descending diag(H) but every block's scales are chosen up front from the
 * unmodified W ("static groups"), so the file stays a plain block-by-block file.
 */
#ifndef GPTQ_H
#define GPTQ_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gptq_flags {
    GPTQ_DEFAULT = 0,
    GPTQ_ACT_ORDER = 1,
};

struct gptq_opts {
    float damp;          /* fraction of the mean diagonal added to it (GPTQ: 0.01) */
    int flags;           /* GPTQ_ACT_ORDER */
    int64_t batch;       /* lazy-batch width (128; rounded up to whole blocks of the type) */
};

struct gptq_report {
    float damp_used;     /* the damping that made H positive definite */
    int damp_raised;     /* how many times it was multiplied by 10 */
    int64_t dead_cols;   /* columns never activated (zeroed) */
};

/* Quantize W [m][n] (modified: it ends holding the error-updated weights) with statistics
 * H [n][n] (symmetric, not modified) onto type; writes m rows of packed blocks to dst
 * (m · row bytes). Returns 0, IG_EINVAL (no grid for the type, n not whole blocks, H not
 * positive definite even after raising the damping 6 times) or IG_ENOMEM. */
int gptq_quantize(float *W, int64_t m, int64_t n, const double *H, int type, const struct gptq_opts *o, void *dst,
                  struct gptq_report *rep);

/* Relative output error sqrt(tr(ΔW H ΔWᵀ) / tr(W H Wᵀ)) of Wq against W under H: the
 * ‖WX − ŴX‖/‖WX‖ of the calibration activations, without the activations. H's upper
 * triangle is read. NaN when out of memory. */
double gptq_relative_error(const float *W, const float *Wq, int64_t m, int64_t n, const double *H);

#ifdef __cplusplus
}
#endif

#endif /* GPTQ_H */
