/* cuda_device.h — which backend `--device cpu|cuda` names, for convert/.
 *
 * The CPU backend is the reference and the default. CUDA is chosen only when asked for, built
 * (make CUDA=1), a device is present, and the CUDA backend is complete and has passed the device
 * equivalence suite (tests/cuda) on a real GPU; until then asking for it is refused with the
 * reason, never silently answered by the CPU.
 */
#ifndef IG_CUDA_DEVICE_H
#define IG_CUDA_DEVICE_H

#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CUDA backend's table (kernels/cuda/backend_cuda.cu), or NULL with a message in a build
 * without CUDA. Incomplete: see that file. */
const struct backend *backend_cuda(void);

/* Make device ("cpu" or "cuda", from --device) the active backend (backend_select).
 * Returns 0; IG_EINVAL for another name ("--device: 'x' is not a device (cpu, cuda)");
 * IG_ENODEV for "cuda" when it cannot be used, the message saying why (not built, no device,
 * not yet validated on a GPU). */
int device_select(const char *device);

#ifdef __cplusplus
}
#endif

#endif /* IG_CUDA_DEVICE_H */
