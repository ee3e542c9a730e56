/* cmd_check.c — `ingot check FILE [--json]`: integrity of a GGUF file.
 *
 * Parsing (gguf_open) already checks the header, every key, every tensor's type, shape,
 * byte count, alignment and bounds. On top of that, check verifies what llama.cpp's loader
 * also demands (tensor data packed in info order, each at the previous end rounded up to
 * the alignment) and recomputes every xxh3-64 that ingot recorded in ingot.tensor_xxh3,
 * naming each tensor that fails. Exit 0 only if everything holds, 2 otherwise.
 */
#include "cli.h"

#include "../common/ig_error.h"
#include "../formats/gguf.h"

#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char check_usage[] =
    "usage: ingot check FILE [--json]\n"
    "\n"
    "Verifies a GGUF file: header, keys, tensor offsets, sizes and alignment, and the xxh3-64\n"
    "checksum ingot records for every tensor (ingot.tensor_xxh3). Names each tensor that fails.\n"
    "Exit 0 if all hold, 2 if anything fails.\n";

struct check_report {
    json_t *failures;   /* [{tensor, problem}] */
    int64_t n_checked;
    bool has_checksums;
};

static void fail(struct check_report *r, bool as_json, const char *tensor, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct check_report *r, bool as_json, const char *tensor, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(r->failures, json_pack("{s:s, s:s}", "tensor", tensor, "problem", msg));
    if (!as_json)
        printf("FAIL tensor '%s': %s\n", tensor, msg);
}

/* llama.cpp requires tensor i at sum_{j<i} pad(size_j). */
static void check_packing(const struct gguf_file *g, struct check_report *r, bool as_json)
{
    uint64_t expect = 0, a = gguf_alignment(g);
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        if (t->offset != expect)
            fail(r, as_json, t->name, "offset %llu, expected %llu (llama.cpp needs tensors packed in order)",
                 (unsigned long long)t->offset, (unsigned long long)expect);
        expect = (t->offset + t->size_bytes + a - 1) / a * a;
    }
}

static void check_checksums(const struct gguf_file *g, struct check_report *r, bool as_json)
{
    int64_t k = gguf_find_key(g, "ingot.tensor_xxh3");
    if (k < 0)
        return;
    const struct gguf_kv *kv = gguf_kv_at(g, k);  /* ARRAY of UINT64: checked by the reader */
    r->has_checksums = true;
    if (kv->count != (uint64_t)gguf_n_tensors(g)) {
        fail(r, as_json, "*", "ingot.tensor_xxh3 holds %llu checksums for %lld tensors", (unsigned long long)kv->count,
             (long long)gguf_n_tensors(g));
        return;
    }
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        uint64_t want, got = XXH3_64bits(t->data, (size_t)t->size_bytes);
        memcpy(&want, kv->value + 8 * i, 8);
        r->n_checked++;
        if (got != want)
            fail(r, as_json, t->name, "xxh3 %016llx, recorded %016llx: the data changed after it was written",
                 (unsigned long long)got, (unsigned long long)want);
    }
}

int cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool as_json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else if (c == 'h')
            return fputs(check_usage, stdout), EXIT_OK;
        else
            return cli_usage_error("check", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cli_usage_error("check", "expected one FILE");
    const char *path = argv[optind];
    struct gguf_file *g = NULL;
    int rc = gguf_open(&g, path);
    if (rc) {
        if (as_json) {
            json_t *j = json_pack("{s:s, s:b, s:s}", "file", path, "ok", 0, "error", ig_error_message());
            char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(text);
            free(text);
            json_decref(j);
        }
        return cli_fail("check", rc);
    }
    struct check_report r = {json_array(), 0, false};
    check_packing(g, &r, as_json);
    check_checksums(g, &r, as_json);
    bool ok = json_array_size(r.failures) == 0;
    if (as_json) {
        json_t *j = json_pack("{s:s, s:b, s:I, s:b, s:I, s:O}", "file", path, "ok", ok, "tensors",
                              (json_int_t)gguf_n_tensors(g), "checksums_recorded", r.has_checksums,
                              "checksums_verified", (json_int_t)r.n_checked, "failures", r.failures);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
        json_decref(j);
    } else if (ok) {
        printf("ok: %s: %lld tensors, offsets and sizes valid, %s\n", path, (long long)gguf_n_tensors(g),
               r.has_checksums ? "every xxh3-64 checksum matches" : "no checksums recorded (not written by ingot)");
    } else {
        printf("%s: %zu problem(s) found\n", path, json_array_size(r.failures));
    }
    json_decref(r.failures);
    gguf_close(g);
    return ok ? EXIT_OK : EXIT_BAD_INPUT;
}
