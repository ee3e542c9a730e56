/* ggml_type.c — block geometry of every ggml type id (ggml-common.h) and ingot's extensions. */
#include "ggml_type.h"

#include "../common/ig_error.h"

#include <ctype.h>
#include <string.h>

#define QK_K 256

/* ---- the table ---------------------------------------------------------------------- */

static const struct ggml_type_info ggml_types[] = {
    {GGML_TYPE_F32, "F32", 1, 4},
    {GGML_TYPE_F16, "F16", 1, 2},
    {GGML_TYPE_Q4_0, "Q4_0", 32, 18},
    {GGML_TYPE_Q4_1, "Q4_1", 32, 20},
    {GGML_TYPE_Q5_0, "Q5_0", 32, 22},
    {GGML_TYPE_Q5_1, "Q5_1", 32, 24},
    {GGML_TYPE_Q8_0, "Q8_0", 32, 34},
    {GGML_TYPE_Q8_1, "Q8_1", 32, 36},
    {GGML_TYPE_Q2_K, "Q2_K", QK_K, 84},
    {GGML_TYPE_Q3_K, "Q3_K", QK_K, 110},
    {GGML_TYPE_Q4_K, "Q4_K", QK_K, 144},
    {GGML_TYPE_Q5_K, "Q5_K", QK_K, 176},
    {GGML_TYPE_Q6_K, "Q6_K", QK_K, 210},
    {GGML_TYPE_Q8_K, "Q8_K", QK_K, 292},
    {GGML_TYPE_IQ2_XXS, "IQ2_XXS", QK_K, 66},
    {GGML_TYPE_IQ2_XS, "IQ2_XS", QK_K, 74},
    {GGML_TYPE_IQ3_XXS, "IQ3_XXS", QK_K, 98},
    {GGML_TYPE_IQ1_S, "IQ1_S", QK_K, 50},
    {GGML_TYPE_IQ4_NL, "IQ4_NL", 32, 18},
    {GGML_TYPE_IQ3_S, "IQ3_S", QK_K, 110},
    {GGML_TYPE_IQ2_S, "IQ2_S", QK_K, 82},
    {GGML_TYPE_IQ4_XS, "IQ4_XS", QK_K, 136},
    {GGML_TYPE_I8, "I8", 1, 1},
    {GGML_TYPE_I16, "I16", 1, 2},
    {GGML_TYPE_I32, "I32", 1, 4},
    {GGML_TYPE_I64, "I64", 1, 8},
    {GGML_TYPE_F64, "F64", 1, 8},
    {GGML_TYPE_IQ1_M, "IQ1_M", QK_K, 56},
    {GGML_TYPE_BF16, "BF16", 1, 2},
    {GGML_TYPE_TQ1_0, "TQ1_0", QK_K, 54},
    {GGML_TYPE_TQ2_0, "TQ2_0", QK_K, 66},
    /* ingot's extension types (layouts: quantizers/ext_types.h, formats/README.md) */
    {GGML_TYPE_INGOT_BASE + 0, "NF4", 256, 134},
    {GGML_TYPE_INGOT_BASE + 1, "NF4_F16", 64, 34},
    {GGML_TYPE_INGOT_BASE + 2, "I4_G32", 32, 20},
    {GGML_TYPE_INGOT_BASE + 3, "I4_G64", 64, 36},
    {GGML_TYPE_INGOT_BASE + 4, "I4_G128", 128, 68},
    {GGML_TYPE_INGOT_BASE + 5, "I8_G32", 32, 36},
    {GGML_TYPE_INGOT_BASE + 6, "I8_G64", 64, 68},
    {GGML_TYPE_INGOT_BASE + 7, "I8_G128", 128, 132},
};

#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

/* ---- lookups ------------------------------------------------------------------------ */

const struct ggml_type_info *ggml_type_info_get(int type_id)
{
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].id == type_id)
            return &ggml_types[i];
    return NULL;
}

static bool name_equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return false;
    return *a == *b;
}

int ggml_type_from_name(const char *name)
{
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (name_equal_nocase(ggml_types[i].name, name))
            return ggml_types[i].id;
    return -1;
}

const char *ggml_type_name(int type_id)
{
    const struct ggml_type_info *t = ggml_type_info_get(type_id);
    return t ? t->name : "?";
}

bool ggml_type_row_bytes(int type_id, int64_t n_elems, uint64_t *size_bytes)
{
    const struct ggml_type_info *t = ggml_type_info_get(type_id);
    if (!t || n_elems < 0 || n_elems % t->block_elems != 0)
        return false;
    return ig_mul_u64((uint64_t)(n_elems / t->block_elems), t->block_bytes, size_bytes);
}
