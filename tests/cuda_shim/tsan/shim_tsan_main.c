/* shim_tsan_main.c — the shim suites' cases (tests/cuda_shim/cuda_equiv.h) as one plain program,
 * for `make tsan-cuda-shim`: Criterion cannot start under ThreadSanitizer (its inheritable
 * arena collides with TSan's shadow memory), so this driver runs the same cases with plain
 * checks. In the shim a CUDA block's threads are OS threads: a missing __syncthreads or a racy
 * shared-memory write in a kernel is a ThreadSanitizer report, and a wrong result a FAILED line.
 * Exit status: 0 when every check passed (TSan's own exit code, 66, when it reported). Not part
 * of tests/unit (the Makefile's wildcard stops at tests/<folder>/).
 */
#define IG_CUDA_SHIM_API 1
#define EQ_PLAIN_CHECKS 1
#include "../cuda_equiv.h"

static void run(const char *name, void (*fn)(void))
{
    const int before = equiv_failures;
    fn();
    fprintf(stderr, "%-28s %s\n", name, equiv_failures == before ? "ok" : "FAILED");
}

static void quantize_all_inputs(void)
{
    equiv_quantize_all(1);
}

static void expf_sample(void)
{
    equiv_expf(65521);
}

int main(void)
{
    run("quantize: every type", quantize_all_inputs);
    run("quantize: refusals", equiv_quantize_refusals);
    run("rms_norm", equiv_rms_norm);
    run("rope", equiv_rope);
    run("swiglu", equiv_swiglu);
    run("attention_rows", equiv_attention);
    run("det_expf on the device", expf_sample);
    fprintf(stderr, "shim_tsan: %d failed checks\n", equiv_failures);
    return equiv_failures ? 1 : 0;
}
