/* make_goldens.c — golden dequantizations of llama.cpp's IQ/TQ/MXFP4 files, made by
 * llama.cpp's own dequantizer, for tests/quantizers/test_iq_types.c.
 *
 * For every tensor of each GGUF file named on the command line, it runs
 * ggml_get_type_traits(type)->to_float from libggml-base (see ggml_lib.h) over the whole
 * tensor and prints one line:
 *   <file basename> <tensor name> <ggml type id> <elements> <xxh3-64 of the f32 output, hex>
 * and, for the first tensor of each quantized type it meets, writes the first two rows of
 * that output as raw little-endian f32 to OUTDIR/<TYPE>.<tensor name>.f32.
 * ingot is used only to parse the GGUF container (formats/gguf.h); the floats come from
 * the library.
 *
 * Build and run (not part of the build; from the repository root, after `make`):
 *   cc -O1 -std=c11 -D_GNU_SOURCE -I. tests/data/ggml_probe/make_goldens.c BUILD/libingot.a \
 *      -lxxhash -ldl -lm -o /tmp/make_goldens
 *   /tmp/make_goldens tests/data/iq_goldens /work/shared/data/peers/tl3m-more/tl3m-imx-*.gguf \
 *      > tests/data/iq_goldens/tensors.txt
 */
#include "ggml_lib.h"

#include "common/ig_error.h"
#include "formats/gguf.h"
#include "formats/ggml_type.h"

#include <stdio.h>
#include <xxhash.h>

int main(int argc, char **argv)
{
    struct ggml_lib lib;
    if (argc < 3 || !ggml_lib_open(&lib, NULL)) {
        fprintf(stderr, "usage: make_goldens OUTDIR FILE.gguf... (and libggml-base: %s)\n", dlerror());
        return 1;
    }
    bool done[64] = {false};
    for (int a = 2; a < argc; a++) {
        struct gguf_file *g;
        if (gguf_open(&g, argv[a])) {
            fprintf(stderr, "%s\n", ig_error_message());
            return 1;
        }
        const char *base = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
            const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
            int64_t n = 1;
            for (int k = 0; k < t->n_dims; k++)
                n *= t->ne[k];
            float *y = malloc((size_t)n * sizeof *y);
            if (t->type == GGML_TYPE_F32) {
                memcpy(y, t->data, (size_t)n * sizeof *y);
            } else {
                ggml_lib_to_float_fn f = ggml_lib_to_float(&lib, t->type);
                if (!f) {
                    fprintf(stderr, "%s: %s: type %d: no dequantizer in the library\n", base, t->name, t->type);
                    return 1;
                }
                f(t->data, y, n);
            }
            printf("%s %s %d %lld %016llx\n", base, t->name, t->type, (long long)n,
                   (unsigned long long)XXH3_64bits(y, (size_t)n * sizeof *y));
            if (t->type < 64 && !done[t->type] && t->type != GGML_TYPE_F32 && ggml_type_info_get(t->type) &&
                (ggml_type_info_get(t->type)->flags & GGML_TYPE_FLAG_QUANTIZED)) {
                char path[512];
                snprintf(path, sizeof path, "%s/%s.%s.f32", argv[1], ggml_type_name(t->type), t->name);
                FILE *fp = fopen(path, "wb");
                int64_t rows = t->n_dims > 1 && t->ne[1] >= 2 ? 2 : 1;
                fwrite(y, sizeof *y, (size_t)(rows * t->ne[0]), fp);
                fclose(fp);
                done[t->type] = true;
            }
            free(y);
        }
        gguf_close(g);
    }
    return 0;
}
