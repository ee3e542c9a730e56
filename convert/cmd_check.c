/* cmd_check.c — `ingot check FILE [--json]`: integrity of a GGUF file.
 *
 * Parsing (gguf_open) already checks the header, every key, every tensor's type, shape,
 * byte count, alignment and bounds. On top of that, check verifies what llama.cpp's loader
 * also demands (tensor data packed in info order, each at the previous end rounded up to
 * the alignment) and recomputes every xxh3-64 that ingot recorded in ingot.tensor_xxh3,
 * naming each tensor that fails. Exit 0 only if everything holds; 2 otherwise, since a
 * damaged file is bad input (exit 1 is kept for quality gates, which check does not run).
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
    "usage: ingot check FILE [--json] [--json-out FILE]\n"
    "\n"
    "Verifies a GGUF file: header, keys, tensor offsets, sizes and alignment, and the xxh3-64\n"
    "checksum ingot records for every tensor (ingot.tensor_xxh3). Names each tensor that fails.\n"
    "  --json           print the result as JSON on stdout instead of the text\n"
    "  --json-out FILE  write the JSON result to FILE (the text still goes to stdout)\n"
    "\n"
    "Exit codes: 0 every check holds; 2 the file is damaged or not GGUF (bad input, e.g. one\n"
    "flipped bit); 3 I/O.\n";

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
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'}, {"json-out", required_argument, 0, 'J'},
                                             {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool as_json = false;
    const char *json_out = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else if (c == 'J')
            json_out = optarg;
        else if (c == 'h')
            return fputs(check_usage, stdout), EXIT_OK;
        else
            return cli_usage_error("check", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cli_usage_error("check", "expected one FILE");
    const char *path = argv[optind];
    struct gguf_file *g = NULL;
    int rc = gguf_open(&g, path);
    if (rc) {
        if (as_json || json_out) {
            char message[IG_ERROR_MAX];
            snprintf(message, sizeof message, "%s", ig_error_message());
            int jrc = cli_json_emit(json_pack("{s:s, s:b, s:s}", "file", path, "ok", 0, "error", message), as_json,
                                    json_out);
            if (jrc)
                fprintf(stderr, "ingot check: %s\n", ig_error_message());
            ig_error_set(rc, "%s", message);
        }
        return cli_fail("check", rc);
    }
    struct check_report r = {json_array(), 0, false};
    check_packing(g, &r, as_json);
    check_checksums(g, &r, as_json);
    bool has_header_xxh3;   /* keys, values and tensor infos: formats/gguf.h */
    if (gguf_check_header_xxh3(g, &has_header_xxh3))
        fail(&r, as_json, "*", "%s", ig_error_message());
    bool ok = json_array_size(r.failures) == 0;
    rc = 0;
    if (as_json || json_out)
        rc = cli_json_emit(json_pack("{s:s, s:b, s:I, s:b, s:I, s:O}", "file", path, "ok", ok, "tensors",
                                     (json_int_t)gguf_n_tensors(g), "checksums_recorded", r.has_checksums,
                                     "checksums_verified", (json_int_t)r.n_checked, "failures", r.failures),
                           as_json, json_out);
    if (as_json) {
        /* the document said it all */
    } else if (ok) {
        printf("ok: %s: %lld tensors, offsets and sizes valid, %s\n", path, (long long)gguf_n_tensors(g),
               r.has_checksums ? "every xxh3-64 checksum matches" : "no checksums recorded (not written by ingot)");
    } else {
        printf("%s: %zu problem(s) found\n", path, json_array_size(r.failures));
    }
    json_decref(r.failures);
    gguf_close(g);
    if (rc)
        return cli_fail("check", rc);
    return ok ? EXIT_OK : EXIT_BAD_INPUT;
}
