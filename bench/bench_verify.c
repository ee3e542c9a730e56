/* bench_verify.c — verifier throughput on the CPU: tokens per second through the forward
 * pass, the way `ingot verify` runs it (windows of n_ctx tokens, logits for the scored half).
 *
 * usage: bench_verify MODEL [n_ctx] [windows] [threads]
 * Prints one JSON line. Validates first: the logits of one window computed with one thread
 * must equal those computed with the requested threads (the CPU backend's loops are
 * deterministic), and must be finite; a failing run reports nothing but the error.
 * Napkin math beside the time: ~2 x parameters FLOPs per token, plus attention.
 */
#include "common/ig_error.h"
#include "formats/model_src.h"
#include "kernels/backend.h"
#include "model/llama.h"
#include "verify/verify.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_verify MODEL [n_ctx] [windows] [threads]\n");
        return 2;
    }
    int64_t n_ctx = argc > 2 ? atoll(argv[2]) : 256, windows = argc > 3 ? atoll(argv[3]) : 8;
    int threads = argc > 4 ? atoi(argv[4]) : omp_get_max_threads();
    struct model_src *src = NULL;
    struct model *m = NULL;
    struct model_ctx *c = NULL;
    if (model_src_open(&src, argv[1], NULL) || model_create(&m, src, tensor_fetch_f32, NULL) ||
        model_ctx_create(&c, m, n_ctx)) {
        fprintf(stderr, "bench_verify: %s\n", ig_error_message());
        return 2;
    }
    const struct model_hparams *hp = model_hparams(m);
    int64_t first = n_ctx / 2, rows = n_ctx - first;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)n_ctx);
    float *a = malloc(sizeof(float) * (size_t)(rows * hp->n_vocab)), *b = malloc(sizeof(float) * (size_t)(rows * hp->n_vocab));
    uint64_t state = 12345;
    for (int64_t i = 0; i < n_ctx; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((state >> 33) % (uint64_t)hp->n_vocab);
    }
    /* validate: one thread vs the requested threads, bit for bit */
    cpu_set_threads(1);
    model_forward(m, c, tok, n_ctx, first, a);
    cpu_set_threads(threads);
    model_forward(m, c, tok, n_ctx, first, b);
    for (int64_t i = 0; i < rows * hp->n_vocab; i++) {
        if (!isfinite(b[i]) || fabsf(a[i] - b[i]) > 1e-4f * (1.0f + fabsf(a[i]))) {
            fprintf(stderr, "bench_verify: validation failed at logit %lld: %g (1 thread) vs %g (%d threads)\n",
                    (long long)i, a[i], b[i], threads);
            return 1;
        }
    }
    double *t = malloc(sizeof(double) * (size_t)windows);
    for (int64_t w = 0; w < windows; w++) {
        double t0 = now();
        model_forward(m, c, tok, n_ctx, first, b);
        t[w] = now() - t0;
    }
    qsort(t, (size_t)windows, sizeof *t, compare_double);
    int64_t n_params = 0;
    for (int64_t i = 0; i < src->n_tensors; i++)
        n_params += src->tensors[i].ne[0] * src->tensors[i].ne[1] * src->tensors[i].ne[2] * src->tensors[i].ne[3];
    double median = t[windows / 2];
    double gflops = 2.0 * (double)n_params * (double)n_ctx / median * 1e-9;
    printf("{\"bench\":\"verify_forward\",\"device\":\"cpu\",\"model\":\"%s\",\"params\":%lld,\"n_ctx\":%lld,"
           "\"windows\":%lld,\"threads\":%d,\"median_s\":%.6f,\"min_s\":%.6f,\"tokens_per_s\":%.1f,"
           "\"gflops_matmul\":%.2f}\n",
           argv[1], (long long)n_params, (long long)n_ctx, (long long)windows, threads, median, t[0],
           (double)n_ctx / median, gflops);
    free(t);
    free(tok);
    free(a);
    free(b);
    model_ctx_destroy(c);
    model_destroy(m);
    model_src_close(src);
    return 0;
}
