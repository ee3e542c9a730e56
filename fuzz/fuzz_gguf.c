/* fuzz_gguf.c — libFuzzer harness for the GGUF reader (formats/gguf_read.c).
 *
 * Each input is written to a memfd and opened through /proc/self/fd/N, the same path a
 * user's file takes; a parsed file is then walked: every key's value and array elements,
 * every tensor's first and last data byte, and the vocabulary reader. Run by `make fuzz`.
 */
#include "formats/gguf.h"
#include "formats/vocab.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint8_t sink;

static void walk(const struct gguf_file *g)
{
    for (int64_t i = 0; i < gguf_n_kv(g); i++) {
        const struct gguf_kv *kv = gguf_kv_at(g, i);
        if (kv->type == GGUF_VALUE_ARRAY && kv->elem_type == GGUF_VALUE_STRING) {
            for (uint64_t k = 0; k < kv->count; k++) {
                struct gguf_str s = gguf_kv_array_str(kv, k);
                if (s.len)
                    sink ^= (uint8_t)s.data[s.len - 1];
            }
        } else if (kv->value_bytes) {
            sink ^= kv->value[kv->value_bytes - 1];
        }
    }
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        if (t->size_bytes)
            sink ^= t->data[0] ^ t->data[t->size_bytes - 1];
    }
    struct vocab v;
    vocab_init(&v);
    if (gguf_vocab_read(g, &v) == 0)
        vocab_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_gguf", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        struct gguf_file *g = NULL;
        if (gguf_open(&g, path) == 0)
            walk(g);
        gguf_close(g);
    }
    close(fd);
    return 0;
}
