/* llama_quantize_shim.c — run llama.cpp's own quantizer (llama_model_quantize in a
 * libllama shared library) with a timer, for side-by-side throughput with ingot convert.
 *
 * usage: LIBLLAMA=/path/libllama.so llama_quantize_shim IN.gguf OUT.gguf FTYPE THREADS
 * FTYPE is llama.cpp's enum llama_ftype (15 = Q4_K_M, 7 = Q8_0, 2 = Q4_0). Only the first
 * two fields of llama_model_quantize_params (nthread, ftype) are set, which have kept their
 * place across llama.cpp versions; the struct is taken from llama's own defaults function
 * into a buffer larger than any version's struct. Prints one JSON line.
 * No libllama is part of ingot: point LIBLLAMA at one you have (see bench/README.md).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

struct quantize_params {
    int32_t nthread;
    int32_t ftype;
    char rest[248];   /* the remaining fields, left at llama's defaults */
};

int main(int argc, char **argv)
{
    const char *lib = getenv("LIBLLAMA");
    if (argc != 5 || !lib) {
        fprintf(stderr, "usage: LIBLLAMA=/path/libllama.so %s IN.gguf OUT.gguf FTYPE THREADS\n", argv[0]);
        return 2;
    }
    void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 3;
    }
    /* dlsym returns an object pointer; ISO C has no cast from it to a function pointer, so the
     * bytes are copied (POSIX guarantees the representations agree) */
    void (*backend_init)(void);
    struct quantize_params (*defaults)(void);
    uint32_t (*quantize)(const char *, const char *, const struct quantize_params *);
    void *sym = dlsym(h, "llama_backend_init");
    memcpy(&backend_init, &sym, sizeof sym);
    sym = dlsym(h, "llama_model_quantize_default_params");
    memcpy(&defaults, &sym, sizeof sym);
    sym = dlsym(h, "llama_model_quantize");
    memcpy(&quantize, &sym, sizeof sym);
    if (!defaults || !quantize) {
        fprintf(stderr, "%s: llama_model_quantize not found\n", lib);
        return 3;
    }
    if (backend_init)
        backend_init();
    struct quantize_params p = defaults();
    p.ftype = atoi(argv[3]);
    p.nthread = atoi(argv[4]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint32_t rc = quantize(argv[1], argv[2], &p);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("{\"bench\":\"llama_model_quantize\",\"in\":\"%s\",\"ftype\":%d,\"threads\":%d,\"rc\":%u,\"seconds\":%.4f}\n", argv[1],
           p.ftype, p.nthread, rc, (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec));
    return rc ? 1 : 0;
}
