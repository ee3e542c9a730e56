/* test_device_select.c — `--device cpu|cuda` (kernels/cuda/cuda_device.h): cpu selects the
 * reference backend; another name is bad input; cuda is refused with its reason until the CUDA
 * backend has passed its device suite (in this build: not built, no device, or not validated). */
#include "../../kernels/cuda/cuda_device.h"

#include "../../common/ig_error.h"

#include <criterion/criterion.h>
#include <string.h>

Test(device_select, cpu_selects_the_reference_backend)
{
    cr_expect_eq(device_select("cpu"), 0);
    cr_expect_eq(backend_active(), backend_cpu());
}

Test(device_select, an_unknown_name_is_bad_input_naming_the_choices)
{
    cr_expect_eq(device_select("gpu"), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "'gpu' is not a device (cpu, cuda)"), "message: %s", ig_error_message());
}

Test(device_select, cuda_is_refused_with_its_reason_and_the_cpu_stays_active)
{
    cr_assert_eq(device_select("cpu"), 0);
    cr_expect_eq(device_select("cuda"), IG_ENODEV);
    const char *msg = ig_error_message();
    cr_expect(strncmp(msg, "--device cuda: ", 15) == 0, "message: %s", msg);
    cr_expect(strstr(msg, "without its CUDA path") || strstr(msg, "device") || strstr(msg, "issue 16"),
              "the reason is named: %s", msg);
    cr_expect_eq(backend_active(), backend_cpu());
}
