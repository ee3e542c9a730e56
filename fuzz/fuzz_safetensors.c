/* fuzz_safetensors.c — libFuzzer harness for the safetensors reader.
 *
 * Each input becomes the whole of one .safetensors file: it is written to a memfd and
 * opened through /proc/self/fd/N, so st_open walks the same mmap path as a real file.
 * Any input may be rejected; none may crash, hang, leak or read outside the mapping.
 * Build and run: make fuzz FUZZ_SECONDS=20 (seeds in tests/data/fuzz-seeds/fuzz_safetensors).
 */
#include "formats/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    struct st_model *st = NULL;
    int fd = memfd_create("fuzz.safetensors", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t k = write(fd, data + done, size - done);
        if (k <= 0)
            goto out_close;
        done += (size_t)k;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (st_open(&st, path) == 0) {
        /* touch every view, so a bad offset faults here rather than in a later caller */
        volatile uint8_t sink = 0;
        for (int64_t i = 0; i < st_n_tensors(st); i++) {
            const struct st_tensor *t = st_tensor_at(st, i);
            if (t->size_bytes)
                sink ^= t->data[0] ^ t->data[t->size_bytes - 1];
            if (st_find(st, t->name) != t)
                __builtin_trap();
        }
        (void)sink;
        st_metadata_get(st, "format");
    }
    st_close(st);
out_close:
    close(fd);
    return 0;
}
