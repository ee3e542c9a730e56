/* gen_iq_grids.c — recover the IQ grid tables from llama.cpp's own dequantizer, once.
 *
 * The IQ1/IQ2/IQ3 types index fixed codebooks ("grids") of 8 or 4 small integers. The
 * codebooks are constants of the file format, not derivable from a short rule, so rather
 * than copying llama.cpp's source this program asks its library: for every grid index it
 * builds one block with d = 1 (fp16 0x3c00), every sign bit clear and the smallest
 * sub-block scale, selects that index in the block's first group, dequantizes the block
 * with ggml_get_type_traits(type)->to_float, and reads the grid values back from the first
 * group's outputs (dividing by the block's known scale, which is exact: powers of two).
 * It also reads back MXFP4's 16 values (scale byte 128 gives a factor of exactly 1; ggml keeps
 * the e2m1 values doubled, 0..12, and halves the e8m0 scale instead).
 *
 * Output: C source for quantizers/iq_grids.c on stdout (the committed file is this output).
 *
 * Build and run (not part of the build; needs only libdl):
 *   cc -O1 -std=c11 -D_GNU_SOURCE tests/data/ggml_probe/gen_iq_grids.c -ldl -o /tmp/gen_iq_grids
 *   /tmp/gen_iq_grids [path/to/libggml-base.so] > quantizers/iq_grids.c
 * The library used: node-llama-cpp's linux-x64 build (see ggml_lib.h for the default path).
 */
#include "ggml_lib.h"

#include <math.h>
#include <stdio.h>

enum { T_IQ2_XXS = 16, T_IQ2_XS = 17, T_IQ3_XXS = 18, T_IQ1_S = 19, T_IQ3_S = 21, T_IQ2_S = 22, T_MXFP4 = 39 };

static ggml_lib_to_float_fn to_float[64];

/* Dequantize one 256-element block (or 32 for MXFP4) and return the first n outputs
 * divided by scale, checking that each is an integer. */
static void probe(int type, const uint8_t *block, int n, float scale, int out[8])
{
    float y[256];
    to_float[type](block, y, type == T_MXFP4 ? 32 : 256);
    for (int j = 0; j < n; j++) {
        float v = y[j] / scale;
        if (v != floorf(v)) {
            fprintf(stderr, "type %d: element %d = %g is not an integer multiple of %g\n", type, j, y[j], scale);
            exit(1);
        }
        out[j] = (int)v;
    }
}

static void put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

/* Grid index idx of each 8-wide type, in the block's first group. */
static void block_8wide(int type, int idx, uint8_t *b)
{
    memset(b, 0, 128);
    put_u16(b, 0x3c00);   /* d = 1 */
    switch (type) {
    case T_IQ2_XXS: b[2] = (uint8_t)idx; break;                       /* aux8[0]; scale nibble 0 */
    case T_IQ2_XS: put_u16(b + 2, (unsigned)idx); break;              /* 9-bit index, sign index 0 */
    case T_IQ2_S: b[2] = (uint8_t)(idx & 0xff); b[2 + 64] = (uint8_t)(idx >> 8); break; /* qs[0], qh[0] */
    case T_IQ1_S: b[2] = (uint8_t)(idx & 0xff); put_u16(b + 34, (unsigned)(idx >> 8)); break; /* qs[0], qh[0] */
    }
}

static void emit_u64_grid(const char *name, int type, int n, float scale, int offset)
{
    uint8_t b[128];
    printf("const uint64_t %s[%d] = {\n", name, n);
    for (int idx = 0; idx < n; idx++) {
        int v[8];
        float y0[8];
        block_8wide(type, idx, b);
        if (type == T_IQ1_S) {   /* y = grid + 1/8: subtract the delta first (exact) */
            float y[256];
            to_float[type](b, y, 256);
            for (int j = 0; j < 8; j++)
                y0[j] = y[j] - 0.125f;
            for (int j = 0; j < 8; j++) {
                if (y0[j] != floorf(y0[j])) {
                    fprintf(stderr, "IQ1_S %d: %g\n", idx, y[j]);
                    exit(1);
                }
                v[j] = (int)y0[j];
            }
        } else {
            probe(type, b, 8, scale, v);
        }
        uint64_t u = 0;
        for (int j = 7; j >= 0; j--)
            u = (u << 8) | (uint8_t)(int8_t)(v[j] + offset);
        printf("%s0x%016llx,%s", idx % 4 == 0 ? "    " : "", (unsigned long long)u, idx % 4 == 3 ? "\n" : " ");
    }
    printf("};\n\n");
}

static void emit_u32_grid(const char *name, int type, int n)
{
    uint8_t b[128];
    printf("const uint32_t %s[%d] = {\n", name, n);
    for (int idx = 0; idx < n; idx++) {
        int v[8];
        float scale;
        memset(b, 0, sizeof b);
        put_u16(b, 0x3c00);
        if (type == T_IQ3_XXS) {
            b[2] = (uint8_t)idx;   /* qs[0]; scale nibble 0: db = (0.5 + 0) * 0.5 */
            scale = 0.25f;
        } else {
            b[2] = (uint8_t)(idx & 0xff);   /* qs[0] */
            b[2 + 64] = (uint8_t)(idx >> 8); /* qh[0] bit 0 is the 9th index bit of group 0 */
            scale = 1.0f;                    /* db = d * (1 + 2 * 0) */
        }
        probe(type, b, 4, scale, v);
        uint32_t u = 0;
        for (int j = 3; j >= 0; j--)
            u = (u << 8) | (uint8_t)v[j];
        printf("%s0x%08x,%s", idx % 8 == 0 ? "    " : "", u, idx % 8 == 7 ? "\n" : " ");
    }
    printf("};\n\n");
}

static void emit_mxfp4(void)
{
    uint8_t b[17] = {128};
    printf("const int8_t mxfp4_values[16] = {");
    for (int k = 0; k < 16; k++) {
        int v[8];
        b[1] = (uint8_t)k;
        probe(T_MXFP4, b, 1, 1.0f, v);
        printf("%s%d", k ? ", " : "", v[0]);
    }
    printf("};\n");
}

int main(int argc, char **argv)
{
    struct ggml_lib lib;
    if (!ggml_lib_open(&lib, argc > 1 ? argv[1] : NULL)) {
        fprintf(stderr, "gen_iq_grids: cannot open libggml-base: %s\n", dlerror());
        return 1;
    }
    const int types[] = {T_IQ2_XXS, T_IQ2_XS, T_IQ3_XXS, T_IQ1_S, T_IQ3_S, T_IQ2_S, T_MXFP4};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!(to_float[types[i]] = ggml_lib_to_float(&lib, types[i]))) {
            fprintf(stderr, "gen_iq_grids: type %d: no dequantizer (or traits layout mismatch)\n", types[i]);
            return 1;
        }
    printf("/* iq_grids.c — the IQ codebooks and MXFP4's value table (see iq_grids.h).\n"
           " *\n"
           " * GENERATED by tests/data/ggml_probe/gen_iq_grids.c, which reads every entry back from\n"
           " * llama.cpp's libggml-base (ggml, MIT license, (c) the ggml authors) by dequantizing\n"
           " * crafted blocks: these are format constants of ggml's IQ1_S/IQ1_M, IQ2_*, IQ3_* and\n"
           " * MXFP4 types. Do not edit by hand; rerun the generator.\n"
           " */\n#include \"iq_grids.h\"\n\n");
    /* 8-wide grids store bytes (IQ2: 8, 25, 43 = 0x08, 0x19, 0x2b; IQ1: int8 -1, 0, 1) */
    emit_u64_grid("iq2xxs_grid", T_IQ2_XXS, 256, 0.125f, 0);
    emit_u64_grid("iq2xs_grid", T_IQ2_XS, 512, 0.125f, 0);
    emit_u64_grid("iq2s_grid", T_IQ2_S, 1024, 0.125f, 0);
    emit_u32_grid("iq3xxs_grid", T_IQ3_XXS, 256);
    emit_u32_grid("iq3s_grid", T_IQ3_S, 512);
    emit_u64_grid("iq1s_grid", T_IQ1_S, 2048, 1.0f, 0);
    emit_mxfp4();
    return 0;
}
