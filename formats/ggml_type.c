/* ggml_type.c — lookups over GGML_TYPE_LIST (ggml_type.h): the block geometry of every ggml
 * type id (ggml-common.h) and of ingot's extensions, by id or by name. */
#include "ggml_type.h"

#include "../common/ig_error.h"

#include <ctype.h>
#include <string.h>

/* ---- the table ---------------------------------------------------------------------- */

#define GGML_TYPE_X_ROW(NAME, id, elems, bytes, flags) {(id), #NAME, (elems), (bytes), (flags)},

/* Every line of GGML_TYPE_LIST, removed ids included (the lookups skip them). */
static const struct ggml_type_info ggml_types[] = {GGML_TYPE_LIST(GGML_TYPE_X_ROW)};

#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

_Static_assert(GGML_TYPE_NF4 == GGML_TYPE_INGOT_BASE, "the first ingot type starts the ingot range");
_Static_assert(GGML_TYPE_Q2_0 == GGML_TYPE_COUNT - 1, "the last ggml id is GGML_TYPE_COUNT - 1");

/* ---- lookups ------------------------------------------------------------------------ */

/* The line for type_id, removed or not, or NULL. */
static const struct ggml_type_info *list_row(int type_id)
{
    for (size_t i = 0; i < N_GGML_TYPES; i++)
        if (ggml_types[i].id == type_id)
            return &ggml_types[i];
    return NULL;
}

const struct ggml_type_info *ggml_type_info_get(int type_id)
{
    const struct ggml_type_info *t = list_row(type_id);
    return t && !(t->flags & GGML_TYPE_FLAG_REMOVED) ? t : NULL;
}

const char *ggml_type_removed_name(int type_id)
{
    const struct ggml_type_info *t = list_row(type_id);
    return t && (t->flags & GGML_TYPE_FLAG_REMOVED) ? t->name : NULL;
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
        if (!(ggml_types[i].flags & GGML_TYPE_FLAG_REMOVED) && name_equal_nocase(ggml_types[i].name, name))
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
