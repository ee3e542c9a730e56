/* tensor_xxh3.c — one line per tensor of a GGUF file: name, ggml type id, ne[0] x ne[1], data
 * bytes, xxh3-64 of the data bytes (hex). Used to record llama-quantize's IQ4_XS outputs
 * (tests/data/iq_goldens/README.md) without keeping the files.
 *
 *   cc -O1 -std=c11 -D_GNU_SOURCE -I. tests/data/ggml_probe/tensor_xxh3.c BUILD/libingot.a \
 *      -lxxhash -lm -o /tmp/tensor_xxh3 && /tmp/tensor_xxh3 FILE.gguf
 */
#include "common/ig_error.h"
#include "formats/gguf.h"

#include <stdio.h>
#include <xxhash.h>

int main(int argc, char **argv)
{
    struct gguf_file *g;
    if (argc != 2 || gguf_open(&g, argv[1])) {
        fprintf(stderr, "usage: tensor_xxh3 FILE.gguf (%s)\n", argc == 2 ? ig_error_message() : "");
        return 1;
    }
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        printf("%s %d %lldx%lld %llu %016llx\n", t->name, t->type, (long long)t->ne[0], (long long)t->ne[1],
               (unsigned long long)t->size_bytes, (unsigned long long)XXH3_64bits(t->data, (size_t)t->size_bytes));
    }
    gguf_close(g);
    return 0;
}
