/* moe.c — mixture-of-experts routing (see moe.h). */
#include "moe.h"

#include "../kernels/cpu/det_math.h"

void moe_route(const float *logits, int64_t n, int64_t n_expert, int64_t k, bool norm, int32_t *sel, float *w)
{
    for (int64_t t = 0; t < n; t++) {
        const float *r = logits + t * n_expert;
        int32_t *s = sel + t * k;
        float *wt = w + t * k;
        float max = r[0];
        for (int64_t e = 1; e < n_expert; e++)
            max = r[e] > max ? r[e] : max;
        double sum = 0.0;
        for (int64_t e = 0; e < n_expert; e++)
            sum += (double)det_expf(r[e] - max);
        const float inv = (float)(1.0 / sum);
        /* top k by selection: the largest not yet taken, the lower index on a tie */
        for (int64_t j = 0; j < k; j++) {
            int32_t best = -1;
            for (int64_t e = 0; e < n_expert; e++) {
                bool taken = false;
                for (int64_t i = 0; i < j; i++)
                    taken = taken || s[i] == (int32_t)e;
                if (!taken && (best < 0 || r[e] > r[best]))
                    best = (int32_t)e;
            }
            s[j] = best;
            wt[j] = det_expf(r[best] - max) * inv;
        }
        if (norm) {
            float total = 0.0f;
            for (int64_t j = 0; j < k; j++)
                total += wt[j];
            for (int64_t j = 0; j < k; j++)
                wt[j] = wt[j] / total;
        }
    }
}

int64_t moe_rows_of(const int32_t *sel, int64_t n, int64_t k, int32_t e, int64_t *rows)
{
    int64_t m = 0;
    for (int64_t t = 0; t < n; t++)
        for (int64_t j = 0; j < k; j++)
            if (sel[t * k + j] == e) {
                rows[m++] = t;
                break;
            }
    return m;
}
