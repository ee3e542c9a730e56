/* bench_cuda_quantize.c — GPU quantize throughput (kernels/cuda/quantize.cu), validated first.
 *
 *   build/bench/bench_cuda_quantize [TYPE|all] [ROWS] [COLS] [REPEATS]   (make CUDA=1 bench)
 *
 * Input: ROWS x COLS seeded fp16 weights (default 4096 x 4096, a 7B attention matrix), widened
 * to fp32 on the host and uploaded once. Before timing, the first 8 rows' GPU bytes are checked
 * against the CPU reference (quantize_row_ref); a type whose bytes differ prints valid:false and
 * is not timed. Time: one warm-up, then REPEATS synchronous calls (cuda_quantize_rows allocates
 * its scratch and synchronizes, so launch and allocation overheads are inside), median and min
 * by CLOCK_MONOTONIC. Napkin math: GB/s of fp16 input (2 bytes per weight), as a converter
 * reading an fp16 checkpoint sees it. One JSON line per type and imatrix setting. Exit 1 when a
 * type failed validation or a call failed. Without CUDA every type reports the reason.
 */
#include "../kernels/cuda/cuda_kernels.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "../quantizers/quant_type.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALIDATE_ROWS 8
#define MAX_REPEATS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seeded fp16 weights ~ N(0, 0.02), widened to fp32: what a converter uploads. */
static void fill_weights(float *x, int64_t n)
{
    uint64_t s = 0x1234567887654321ull;
    for (int64_t i = 0; i < n; i++) {
        float sum = 0.0f;
        for (int k = 0; k < 4; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            sum += (float)(s >> 40) / 16777216.0f - 0.5f;
        }
        x[i] = ig_fp16_to_fp32(ig_fp32_to_fp16(sum * 0.0346f));
    }
}

/* 1: the first rows' GPU bytes equal the reference's. */
static int validate(const struct quant_type *qt, const float *x, int64_t rows, int64_t cols, const float *w,
                    const void *d_y)
{
    const size_t row_bytes = quant_row_size_bytes(qt, cols);
    const int64_t n = rows < VALIDATE_ROWS ? rows : VALIDATE_ROWS;
    uint8_t *want = malloc((size_t)n * row_bytes), *got = malloc((size_t)n * row_bytes);
    int ok = want && got && cuda_download(got, d_y, (size_t)n * row_bytes) == 0;
    for (int64_t r = 0; ok && r < n; r++)
        ok = qt->quantize_row_ref(x + r * cols, want + r * row_bytes, cols, w) == 0;
    ok = ok && memcmp(want, got, (size_t)n * row_bytes) == 0;
    free(want);
    free(got);
    return ok;
}

/* Benchmark one type; returns 0 or 1 (invalid or failed). */
static int bench_type(const struct quant_type *qt, const float *x, const float *d_x, int64_t rows, int64_t cols,
                      const float *w, const float *d_w, int repeats)
{
    const char *im = w ? "true" : "false";
    void *d_y = NULL;
    int rc = cuda_malloc(&d_y, (size_t)rows * quant_row_size_bytes(qt, cols));
    if (!rc)
        rc = cuda_quantize_rows(qt->id, d_x, d_y, rows, cols, d_w, NULL);   /* also the warm-up */
    if (rc) {
        printf("{\"bench\":\"cuda_quantize\",\"type\":\"%s\",\"imatrix\":%s,\"error\":\"%s\"}\n", qt->name, im,
               ig_error_message());
        cuda_free(d_y);
        return 1;
    }
    if (!validate(qt, x, rows, cols, w, d_y)) {
        printf("{\"bench\":\"cuda_quantize\",\"type\":\"%s\",\"imatrix\":%s,\"valid\":false}\n", qt->name, im);
        cuda_free(d_y);
        return 1;
    }
    double t[MAX_REPEATS];
    for (int i = 0; i < repeats && !rc; i++) {
        const double t0 = now_s();
        rc = cuda_quantize_rows(qt->id, d_x, d_y, rows, cols, d_w, NULL);
        t[i] = now_s() - t0;
    }
    cuda_free(d_y);
    if (rc) {
        printf("{\"bench\":\"cuda_quantize\",\"type\":\"%s\",\"imatrix\":%s,\"error\":\"%s\"}\n", qt->name, im,
               ig_error_message());
        return 1;
    }
    qsort(t, (size_t)repeats, sizeof t[0], cmp_double);
    const double fp16_bytes = 2.0 * (double)rows * (double)cols, median = t[repeats / 2];
    printf("{\"bench\":\"cuda_quantize\",\"type\":\"%s\",\"imatrix\":%s,\"rows\":%lld,\"cols\":%lld,"
           "\"repeats\":%d,\"valid\":true,\"median_s\":%.6f,\"min_s\":%.6f,\"gbps_fp16_median\":%.2f,"
           "\"gbps_fp16_best\":%.2f}\n",
           qt->name, im, (long long)rows, (long long)cols, repeats, median, t[0], fp16_bytes / median * 1e-9,
           fp16_bytes / t[0] * 1e-9);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : "all";
    const int64_t rows = argc > 2 ? atoll(argv[2]) : 4096, cols = argc > 3 ? atoll(argv[3]) : 4096;
    int repeats = argc > 4 ? atoi(argv[4]) : 5;
    repeats = repeats < 1 ? 1 : repeats > MAX_REPEATS ? MAX_REPEATS : repeats;
    if (rows <= 0 || cols <= 0 || cols % 256 != 0) {
        fprintf(stderr, "bench_cuda_quantize: ROWS > 0 and COLS a multiple of 256\n");
        return 2;
    }
    if (cuda_device_count() <= 0) {
        printf("{\"bench\":\"cuda_quantize\",\"skipped\":\"%s\"}\n", ig_error_message());
        return 0;
    }
    float *x = malloc((size_t)(rows * cols) * sizeof *x), *w = malloc((size_t)cols * sizeof *w);
    void *d_x = NULL, *d_w = NULL;
    if (!x || !w || cuda_malloc(&d_x, (size_t)(rows * cols) * sizeof *x) ||
        cuda_malloc(&d_w, (size_t)cols * sizeof *w)) {
        fprintf(stderr, "bench_cuda_quantize: no memory for %lld x %lld: %s\n", (long long)rows, (long long)cols,
                ig_error_message());
        return 1;
    }
    fill_weights(x, rows * cols);
    for (int64_t j = 0; j < cols; j++)
        w[j] = 0.5f + (float)(j % 17) / 8.0f;   /* a stand-in importance vector */
    if (cuda_upload(d_x, x, (size_t)(rows * cols) * sizeof *x) || cuda_upload(d_w, w, (size_t)cols * sizeof *w)) {
        fprintf(stderr, "bench_cuda_quantize: upload: %s\n", ig_error_message());
        return 1;
    }
    int failed = 0;
    for (size_t i = 0; quant_type_at(i); i++) {
        const struct quant_type *qt = quant_type_at(i);
        if (!cuda_quantize_supports(qt->id) || (strcmp(only, "all") != 0 && strcmp(only, qt->name) != 0))
            continue;
        if (cols % qt->block_elems != 0)
            continue;
        failed |= bench_type(qt, x, d_x, rows, cols, NULL, NULL, repeats);
        failed |= bench_type(qt, x, d_x, rows, cols, w, d_w, repeats);
    }
    cuda_free(d_x);
    cuda_free(d_w);
    free(x);
    free(w);
    return failed;
}
