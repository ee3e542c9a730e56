/* cuda_device.c — `--device cpu|cuda` (cuda_device.h). C, in every build: the CUDA side is
 * reached only through cuda_kernels.h, whose stubs answer in a build without nvcc.
 */
#include "cuda_device.h"

#include "cuda_kernels.h"

#include "../../common/ig_error.h"

#include <string.h>

/* Set to 1 in the change that records, in README.md, the commit whose device equivalence
 * suite (make test-cuda, bench/gpu_run.sh) passed on a real GPU, and completes backend_cuda. */
#define CUDA_BACKEND_VALIDATED 0

int device_select(const char *device)
{
    if (!strcmp(device, "cpu")) {
        backend_select(backend_cpu());
        return 0;
    }
    if (strcmp(device, "cuda") != 0)
        return ig_error_set(IG_EINVAL, "--device: '%s' is not a device (cpu, cuda)", device);
    if (cuda_device_count() <= 0)
        return ig_error_wrap(IG_ENODEV, "--device cuda");
    if (!CUDA_BACKEND_VALIDATED)
        return ig_error_set(IG_ENODEV, "--device cuda: the CUDA backend has not yet passed its device "
                            "equivalence suite on a GPU (issue 16); use --device cpu");
    const struct backend *be = backend_cuda();
    if (!be)
        return ig_error_wrap(IG_ENODEV, "--device cuda");
    backend_select(be);
    return 0;
}
