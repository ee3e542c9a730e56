/* stats.c — perplexity and KL-divergence statistics, as llama-perplexity reports them
 * (perplexity.cpp: log_softmax, mean_and_uncertainty, covariance, percentiles).
 * exp and log are kernels/cpu/det_math.h's, not libm's: glibc picks an FMA or a non-FMA build at
 * run time, and the figures verify prints must not change their last digits with the machine.
 */
#include "verify.h"

#include "../common/ig_error.h"
#include "../kernels/cpu/det_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- one row ---------------------------------------------------------------------------- */

void verify_logsumexp(const float *logits, int64_t n_vocab, float *max_out, double *lse_out)
{
    float max = logits[0];
    for (int64_t i = 1; i < n_vocab; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0.0;
    for (int64_t i = 0; i < n_vocab; i++)
        sum += det_expf(logits[i] - max);
    *max_out = max;
    *lse_out = det_log(sum);
}

static int64_t argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* ---- perplexity ------------------------------------------------------------------------------ */

void ppl_stats_add(struct ppl_stats *s, double nll)
{
    s->nll_sum += nll;
    s->nll2_sum += nll * nll;
    s->n++;
}

void ppl_stats_result(const struct ppl_stats *s, double *ppl, double *stderr_out)
{
    double mean = s->nll_sum / (double)s->n;
    double var = s->nll2_sum / (double)s->n - mean * mean;
    *ppl = det_exp(mean);
    *stderr_out = var > 0 && s->n > 1 ? *ppl * sqrt(var / (double)(s->n - 1)) : 0.0;
}

/* ---- KL divergence ---------------------------------------------------------------------------- */

int kld_stats_init(struct kld_stats *s, int64_t capacity)
{
    memset(s, 0, sizeof *s);
    s->kld = ig_malloc((size_t)(capacity > 0 ? capacity : 1) * sizeof *s->kld);
    s->capacity = capacity;
    return s->kld ? 0 : IG_ENOMEM;
}

void kld_stats_free(struct kld_stats *s)
{
    free(s->kld);
    s->kld = NULL;
}

void kld_token_compute(const float *src_logits, const float *q_logits, int64_t n_vocab, int32_t tok,
                       struct kld_token *out)
{
    float max_b, max_q;
    double lse_b, lse_q;
    verify_logsumexp(src_logits, n_vocab, &max_b, &lse_b);
    verify_logsumexp(q_logits, n_vocab, &max_q, &lse_q);
    double kld = 0.0;
    for (int64_t i = 0; i < n_vocab; i++) {
        double lb = (double)(src_logits[i] - max_b) - lse_b;
        double lq = (double)(q_logits[i] - max_q) - lse_q;
        kld += det_exp(lb) * (lb - lq);
    }
    out->nll_q = lse_q - (double)(q_logits[tok] - max_q);
    out->nll_src = lse_b - (double)(src_logits[tok] - max_b);
    out->kld = kld;
    out->dp = det_exp(-out->nll_q) - det_exp(-out->nll_src);
    out->same_top = argmax(q_logits, n_vocab) == argmax(src_logits, n_vocab);
}

void kld_stats_push(struct kld_stats *s, const struct kld_token *t)
{
    ppl_stats_add(&s->ppl, t->nll_q);
    s->nll_src_sum += t->nll_src;
    s->nll_src2_sum += t->nll_src * t->nll_src;
    s->nll_cross_sum += t->nll_q * t->nll_src;
    s->kld_sum += t->kld;
    s->kld2_sum += t->kld * t->kld;
    s->dp_sum += t->dp;
    s->dp2_sum += t->dp * t->dp;
    s->same_top += t->same_top;
    if (s->ppl.n - 1 < s->capacity)
        s->kld[s->ppl.n - 1] = (float)t->kld;
}

void kld_stats_add(struct kld_stats *s, const float *src_logits, const float *q_logits, int64_t n_vocab, int32_t tok)
{
    struct kld_token t;
    kld_token_compute(src_logits, q_logits, n_vocab, tok, &t);
    kld_stats_push(s, &t);
}

/* mean and its standard error, as llama.cpp's mean_and_uncertainty (0 for n <= 10). */
static void mean_and_uncertainty(double sum, double sum2, int64_t n, double *mean, double *unc)
{
    *mean = sum / (double)n;
    double var = sum2 / (double)n - *mean * *mean;
    *unc = n > 10 && var > 0 ? sqrt(var / (double)(n - 1)) : 0.0;
}

static int compare_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Linear interpolation at f·(n-1) in sorted values. */
static double percentile(const float *sorted, int64_t n, double f)
{
    double pos = f * (double)(n - 1);
    int64_t lo = (int64_t)pos;
    if (lo >= n - 1)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return (1.0 - frac) * sorted[lo] + frac * sorted[lo + 1];
}

void kld_stats_summarize(struct kld_stats *s, struct kld_summary *o)
{
    int64_t n = s->ppl.n;
    memset(o, 0, sizeof *o);
    if (n == 0)
        return;
    ppl_stats_result(&s->ppl, &o->ppl, &o->ppl_stderr);
    double m_q, u_q, m_b, u_b;
    mean_and_uncertainty(s->ppl.nll_sum, s->ppl.nll2_sum, n, &m_q, &u_q);
    mean_and_uncertainty(s->nll_src_sum, s->nll_src2_sum, n, &m_b, &u_b);
    double cov = n > 10 ? (s->nll_cross_sum / (double)n - m_q * m_b) / (double)(n - 1) : 0.0;
    double log_ratio_unc = sqrt(fmax(0.0, u_q * u_q + u_b * u_b - 2.0 * cov));
    o->ppl_ratio = det_exp(m_q - m_b);
    o->ppl_ratio_stderr = o->ppl_ratio * log_ratio_unc;
    mean_and_uncertainty(s->kld_sum, s->kld2_sum, n, &o->kld_mean, &o->kld_mean_stderr);
    int64_t k = n < s->capacity ? n : s->capacity;
    qsort(s->kld, (size_t)k, sizeof *s->kld, compare_float);
    o->kld_median = k % 2 ? s->kld[k / 2] : 0.5 * ((double)s->kld[k / 2 - 1] + (double)s->kld[k / 2]);
    o->kld_p99 = percentile(s->kld, k, 0.99);
    o->kld_max = s->kld[k - 1];
    double p = (double)s->same_top / (double)n;
    o->same_top_pct = 100.0 * p;
    o->same_top_stderr_pct = n > 1 ? 100.0 * sqrt(p * (1.0 - p) / (double)(n - 1)) : 0.0;
    o->dp_mean = s->dp_sum / (double)n;
    o->dp_rms = sqrt(s->dp2_sum / (double)n);
}
