/* ggml_lib.h — load llama.cpp's libggml-base.so at run time and reach its per-type
 * dequantizer (ggml_get_type_traits(type)->to_float) and its quantizer
 * (ggml_quantize_chunk), for the one-time generators in this folder and for the tests that
 * compare ingot with the library. Header-only; nothing here is part of ingot.
 *
 * struct ggml_type_traits (ggml/include/ggml.h) is not copied: its fields are located
 * by layout (type_name, blck_size, blck_size_interleave, type_size, is_quantized, to_float,
 * from_float_ref, as in ggml 0.x since 2024) and that layout is checked against
 * ggml_type_name / ggml_blck_size / ggml_type_size before use.
 */
#ifndef GGML_LIB_H
#define GGML_LIB_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GGML_LIB_DEFAULT "/tmp/llb/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so"

typedef void (*ggml_lib_to_float_fn)(const void *x, float *y, int64_t k);

struct ggml_lib_traits {   /* the leading fields of ggml's struct ggml_type_traits */
    const char *type_name;
    int64_t blck_size;
    int64_t blck_size_interleave;
    size_t type_size;
    bool is_quantized;
    ggml_lib_to_float_fn to_float;
    void *from_float_ref;
};

struct ggml_lib {
    void *h;
    const struct ggml_lib_traits *(*get_type_traits)(int type);
    const char *(*type_name)(int type);
    int64_t (*blck_size)(int type);
    size_t (*type_size)(int type);
    size_t (*quantize_chunk)(int type, const float *src, void *dst, int64_t start, int64_t nrows,
                             int64_t n_per_row, const float *imatrix);
    void (*quantize_init)(int type);
};

/* dlsym returns an object pointer; the bytes are copied into the function pointer (POSIX
 * guarantees the representations agree). */
#define GGML_LIB_SYM(lib, field, name)                                                      \
    do {                                                                                    \
        void *sym_ = dlsym((lib)->h, name);                                                 \
        memcpy(&(lib)->field, &sym_, sizeof sym_);                                          \
    } while (0)

/* Open the library at path (NULL: $GGML_BASE_LIB, else GGML_LIB_DEFAULT). Returns false when
 * it is absent or lacks a symbol. */
static inline bool ggml_lib_open(struct ggml_lib *lib, const char *path)
{
    memset(lib, 0, sizeof *lib);
    if (!path)
        path = getenv("GGML_BASE_LIB");
    if (!path)
        path = GGML_LIB_DEFAULT;
    lib->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib->h)
        return false;
    GGML_LIB_SYM(lib, get_type_traits, "ggml_get_type_traits");
    GGML_LIB_SYM(lib, type_name, "ggml_type_name");
    GGML_LIB_SYM(lib, blck_size, "ggml_blck_size");
    GGML_LIB_SYM(lib, type_size, "ggml_type_size");
    GGML_LIB_SYM(lib, quantize_chunk, "ggml_quantize_chunk");
    GGML_LIB_SYM(lib, quantize_init, "ggml_quantize_init");
    return lib->get_type_traits && lib->type_name && lib->blck_size && lib->type_size && lib->quantize_chunk &&
           lib->quantize_init;
}

/* The library's dequantizer for type, or NULL when the type is unknown to it or the traits
 * layout does not match the accessor functions. */
static inline ggml_lib_to_float_fn ggml_lib_to_float(const struct ggml_lib *lib, int type)
{
    const struct ggml_lib_traits *t = lib->get_type_traits(type);
    const char *name = lib->type_name(type);
    if (!t || !name || !t->type_name || strcmp(t->type_name, name) != 0)
        return NULL;
    if (t->blck_size != lib->blck_size(type) || t->type_size != lib->type_size(type))
        return NULL;
    return t->to_float;
}

#endif /* GGML_LIB_H */
