/* probe_layouts.c — print how llama.cpp's library decodes NVFP4, Q1_0 and Q2_0 blocks, the
 * facts behind their dequantizers in quantizers/ (iq_types.h, items 12-14), which no reference
 * note covered: for Q1_0/Q2_0, which outputs one set bit in the first two data bytes moves
 * (d = 1); for NVFP4, the value of every nibble under scale byte 0x38 (e4m3 1.0) and the scale
 * of every byte 0..255 (nibble 2, i.e. e2m1 1.0).
 *
 *   cc -O1 -std=c11 -D_GNU_SOURCE tests/data/ggml_probe/probe_layouts.c -ldl -o /tmp/probe_layouts
 *   /tmp/probe_layouts [path/to/libggml-base.so]
 */
#include "ggml_lib.h"

#include <stdio.h>

enum { T_NVFP4 = 40, T_Q1_0 = 41, T_Q2_0 = 42 };

static void bits(ggml_lib_to_float_fn f, int type, int n)
{
    uint8_t b[64];
    float y[256], y0[256];
    memset(b, 0, sizeof b);
    b[1] = 0x3c;   /* d = 1 */
    f(b, y0, n);
    printf("type %d, all bits clear: every output %g\n", type, y0[0]);
    for (int byte = 2; byte < 4; byte++)
        for (int bit = 0; bit < 8; bit++) {
            memset(b, 0, sizeof b);
            b[1] = 0x3c;
            b[byte] = (uint8_t)(1 << bit);
            f(b, y, n);
            printf("  data byte %d bit %d:", byte - 2, bit);
            for (int i = 0; i < n; i++)
                if (y[i] != y0[i])
                    printf(" y[%d] = %g", i, y[i]);
            printf("\n");
        }
}

int main(int argc, char **argv)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, argc > 1 ? argv[1] : NULL)) {
        fprintf(stderr, "probe_layouts: cannot open libggml-base\n");
        return 1;
    }
    ggml_lib_to_float_fn q1 = ggml_lib_to_float(&lib, T_Q1_0), q2 = ggml_lib_to_float(&lib, T_Q2_0),
                         nv = ggml_lib_to_float(&lib, T_NVFP4);
    if (!q1 || !q2 || !nv) {
        fprintf(stderr, "probe_layouts: the library lacks NVFP4, Q1_0 or Q2_0\n");
        return 1;
    }
    bits(q1, T_Q1_0, 128);
    bits(q2, T_Q2_0, 64);
    uint8_t b[36];
    float y[64];
    for (int q = 0; q < 16; q++) {
        memset(b, 0, sizeof b);
        b[0] = 0x38;
        b[4] = (uint8_t)(q | q << 4);
        nv(b, y, 64);
        printf("NVFP4 nibble %2d: y[0] = %g, y[8] = %g, y[16] = %g\n", q, y[0], y[8], y[16]);
    }
    for (int e = 0; e < 256; e++) {
        memset(b, 0, sizeof b);
        b[0] = (uint8_t)e;
        b[4] = 2;
        nv(b, y, 64);
        printf("NVFP4 scale byte 0x%02x: %g%s", e, y[0], e % 8 == 7 ? "\n" : "  ");
    }
    return 0;
}
