/* fuzz_imatrix.c — libFuzzer harness for importance-matrix files (formats/imatrix.h), in
 * both formats: GGUF (recognised by its magic) and llama.cpp's legacy .dat.
 *
 * Each input is one imatrix file, written into a private temporary folder and read with
 * imatrix_read. Any input may be rejected; none may crash, leak or read outside the file.
 * An accepted matrix must keep imatrix.h's promises (every value finite and >= 0, every
 * count finite and > 0, importance = sum2 / count in float32, the first of two same-named
 * entries found), and it must survive being written back:
 *   - GGUF: imatrix_write_gguf then imatrix_read gives the same entries, bit for bit;
 *   - .dat: imatrix_write_dat then imatrix_read gives the same names and lengths (the
 *     values are rescaled by ncall, so they are not compared).
 * A write may refuse (a name too long for a GGUF tensor, duplicate names); a file it wrote
 * must read back.
 * Seeds: tests/data/fuzz-seeds/fuzz_imatrix (written by fuzz/make_seeds.py).
 * Build and run: make build/fuzz/fuzz_imatrix && build/fuzz/fuzz_imatrix -max_total_time=30
 */
#include "common/ig_error.h"
#include "formats/imatrix.h"
#include "fuzz/fuzz_util.h"

#include <math.h>

/* ---- oracles ---------------------------------------------------------------------------- */

/* The known-* seeds are four findings of this harness (2026-12-06), fixed in formats/imatrix.c:
 * a .dat name starting with a NUL, an ncall past int32 in the .dat writer, an importance
 * overflowing to inf on a tiny count, and a GGUF in_sum2 of 0 values. They stay as seeds. */

static void check_accepted(const struct imatrix *im)
{
    if (im->n_entries < 0 || (im->n_entries > 0 && !im->entries) || !memchr(im->dataset, 0, sizeof im->dataset))
        __builtin_trap();
    for (int64_t i = 0; i < im->n_entries; i++) {
        const struct imatrix_entry *e = &im->entries[i];
        if (!e->name || e->n <= 0 || !e->sum2 || !e->importance || e->n_mat < 1 || e->n % e->n_mat ||
            !e->counts || !isfinite(e->count) || !(e->count > 0 || (e->n_mat > 1 && e->count == 0)))
            __builtin_trap();
        for (int64_t j = 0; j < e->n; j++) {
            /* a stack's expert that saw no rows weighs every column by 1 (llama-quantize) */
            const float c = e->counts[j / (e->n / e->n_mat)];
            float want = c > 0 ? e->sum2[j] / c : 1.0f;
            if (!isfinite(e->sum2[j]) || e->sum2[j] < 0 || memcmp(&want, &e->importance[j], sizeof want) != 0)
                __builtin_trap();
        }
        const float *found = imatrix_find(im, e->name, e->n);
        bool first = true;
        for (int64_t k = 0; k < i && first; k++)
            first = strcmp(im->entries[k].name, e->name) != 0;
        if (first && found != e->importance)
            __builtin_trap();
    }
    for (int i = 0; i < im->n_warnings; i++)
        if (!im->warnings[i])
            __builtin_trap();
}

/* Whether some matrix of e saw rows: the .dat leaves out a stack none of whose experts did
 * (as llama-imatrix's legacy writer does), the GGUF keeps it. */
static bool has_rows(const struct imatrix_entry *e)
{
    for (int64_t k = 0; k < e->n_mat; k++)
        if (e->counts[k] > 0)
            return true;
    return false;
}

/* Same entries in the same order: names and lengths always; values too when exact (GGUF);
 * without exact (.dat), the entries of a that saw rows. */
static void check_same(const struct imatrix *a, const struct imatrix *b, bool exact)
{
    int64_t n = 0;
    for (int64_t i = 0; i < a->n_entries; i++)
        n += exact || has_rows(&a->entries[i]);
    if (n != b->n_entries)
        __builtin_trap();
    for (int64_t i = 0, k = 0; i < a->n_entries; i++) {
        if (!exact && !has_rows(&a->entries[i]))
            continue;
        const struct imatrix_entry *x = &a->entries[i], *y = &b->entries[k++];
        if (strcmp(x->name, y->name) != 0 || x->n != y->n)
            __builtin_trap();
        if (exact && (memcmp(&x->count, &y->count, sizeof x->count) != 0 ||
                      memcmp(x->sum2, y->sum2, (size_t)x->n * sizeof *x->sum2) != 0))
            __builtin_trap();
    }
}

/* Write im with write(), read it back, compare. */
static void round_trip(const struct imatrix *im, const char *dir, const char *name,
                       int (*write)(const struct imatrix *, const char *), bool exact)
{
    char path[FUZZ_PATH_MAX];
    struct imatrix back;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (write(im, path) != 0)
        return;
    if (imatrix_read(&back, path) != 0) {
        fprintf(stderr, "fuzz_imatrix: %s written, then refused: %s\n", name, ig_error_message());
        __builtin_trap();
    }
    check_accepted(&back);
    check_same(im, &back, exact);
    imatrix_free(&back);
}

/* ---- entry point -------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX];
    struct imatrix im;
    const char *dir = fuzz_dir("fuzz_imatrix");
    if (!dir || fuzz_write_file(dir, "in.imatrix", data, size))
        return 0;
    snprintf(path, sizeof path, "%s/in.imatrix", dir);
    ig_error_clear();
    int rc = imatrix_read(&im, path);
    fuzz_note("fuzz_imatrix", "imatrix_read", rc, ig_error_message());
    if (rc != 0) {
        if (im.n_entries != 0 || im.entries || ig_error_message()[0] == '\0')
            __builtin_trap();   /* a failure frees what it read and says why */
        return 0;
    }
    check_accepted(&im);
    round_trip(&im, dir, "out.gguf", imatrix_write_gguf, true);
    round_trip(&im, dir, "out.dat", imatrix_write_dat, false);
    imatrix_free(&im);
    return 0;
}
