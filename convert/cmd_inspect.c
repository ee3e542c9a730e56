/* cmd_inspect.c — `ingot inspect FILE|FOLDER [--tensor NAME [--dump-f32 OUT]] [--json]`.
 *
 * A GGUF file (ingot's or anyone's) is shown as stored: every metadata key with its type,
 * the tensor table (name, type, ggml shape, bytes, bits per weight), totals per type, and
 * ingot's provenance keys. A source (HF folder, llama2.c checkpoint) is shown the way
 * convert will see it: hyperparameters, vocabulary and tensors under their GGUF names.
 * With --tensor, one tensor's values instead (inspect_tensor.c).
 */
#include "cli.h"
#include "inspect_tensor.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf.h"
#include "../formats/model_src.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_PREVIEW 8   /* array elements shown in full before "..." */

static const char inspect_usage[] =
    "usage: ingot inspect FILE|FOLDER [--json] [--json-out FILE]\n"
    "       ingot inspect FILE|FOLDER --tensor NAME [--dump-f32 OUT] [--json] [--json-out FILE]\n"
    "\n"
    "Shows a GGUF file's metadata, tensors (ggml shape order: ne[0] first), bits per weight\n"
    "and ingot provenance, or what convert would read from an HF folder or llama2.c file.\n"
    "  --json           print one JSON object on stdout instead of the text\n"
    "  --json-out FILE  write the JSON object to FILE (the text still goes to stdout)\n"
    "\n"
    "One tensor, with --tensor NAME: its type, shape and statistics of its values, dequantized\n"
    "to f32 by the type's reference dequantizer: min, max, mean, std (population; over the\n"
    "finite values, in double, in element order, so the same whatever the thread count),\n"
    "counts of NaN, +Inf, -Inf and zeros, and zero blocks: blocks whose values are all 0, a\n"
    "block being the type's quantization block along a row (Q4_K: 256 values) or, for float\n"
    "and integer types, a whole row. Any GGUF works (no architecture keys needed), by its\n"
    "llama.cpp name. In an HF folder or .safetensors file the name is the checkpoint's own\n"
    "(model.layers.0.self_attn.q_proj.weight); the folder may hold any subset of the shards,\n"
    "with or without config.json or the index. I8, U8 and I32 tensors (third-party quantized\n"
    "checkpoints) show their stored integers converted to f32. A GGUF name (blk.0.attn_q.weight)\n"
    "is also accepted for a whole HF folder or a llama2.c file: then the values are the tensor\n"
    "as convert writes it (Q/K rows permuted for rope), and the output says so.\n"
    "  --tensor NAME    the tensor; an unknown name lists the closest ones\n"
    "  --dump-f32 OUT   also write its values to OUT as raw little-endian f32, row-major in the\n"
    "                   logical layout: GGUF ne[0] fastest; safetensors the checkpoint's own\n"
    "                   shape, last dimension fastest ([out_features, in_features] for a\n"
    "                   linear), not permuted. Written to a temporary file and renamed: no\n"
    "                   partial OUT on failure; OUT must not be an input file.\n"
    "\n"
    "Exit codes: 0 shown; 2 not a readable GGUF file, HF folder or llama2.c checkpoint, no such\n"
    "tensor, or a type this build cannot dequantize; 3 I/O.\n";

/* ---- values as text and JSON ---------------------------------------------------------------- */

static void print_str(FILE *f, const char *s, uint64_t len, size_t max)
{
    fputc('"', f);
    cli_fputs_escaped(f, s, len < max ? (size_t)len : max, true);
    fputs(len > max ? "...\"" : "\"", f);
}

/* A key or tensor name from the file, escaped (cli_fputs_escaped) and left-aligned in
 * width columns: a name is shown, never interpreted by the terminal. */
static void print_name(const char *s, size_t len, int width)
{
    char buf[1024];
    FILE *m = fmemopen(buf, sizeof buf, "w");
    if (!m)
        return;
    cli_fputs_escaped(m, s, len, false);
    long n = ftell(m);
    fclose(m);
    buf[n < (long)sizeof buf ? n : (long)sizeof buf - 1] = '\0';
    printf("%-*s", width, buf);
}

/* ---- JSON strings that are not UTF-8 ----------------------------------------------------------- */

/* s[0..len) as a JSON string; when bytes had to become U+FFFD, one line in warnings
 * saying where (what) and how many. */
static json_t *json_str(const char *s, size_t len, json_t *warnings, const char *what)
{
    int64_t n_bad = 0;
    json_t *j = cli_json_string_lossy(s, len, &n_bad);
    if (n_bad && warnings) {
        json_t *w = json_sprintf("%s: %lld byte%s of invalid UTF-8 shown as U+FFFD", what, (long long)n_bad,
                                 n_bad == 1 ? "" : "s");
        json_array_append_new(warnings, w);
    }
    return j;
}

static void print_scalar(FILE *f, int type, const uint8_t *p)
{
    double v = gguf_scalar_as_f64(type, p);
    if (type == GGUF_VALUE_BOOL)
        fputs(v != 0 ? "true" : "false", f);
    else if (type == GGUF_VALUE_FLOAT32 || type == GGUF_VALUE_FLOAT64)
        fprintf(f, "%.9g", v);
    else if (type == GGUF_VALUE_UINT64) {
        uint64_t u;
        memcpy(&u, p, 8);
        fprintf(f, "%llu", (unsigned long long)u);
    } else if (type == GGUF_VALUE_INT64) {
        int64_t s;
        memcpy(&s, p, 8);
        fprintf(f, "%lld", (long long)s);
    } else
        fprintf(f, "%.0f", v);
}

static bool is_checksum_key(struct gguf_str key)
{
    return key.len >= 4 && memcmp(key.data + key.len - 4, "xxh3", 4) == 0;
}

static void print_value(FILE *f, const struct gguf_kv *kv)
{
    if (kv->type == GGUF_VALUE_STRING) {
        uint64_t len;
        memcpy(&len, kv->value, 8);
        print_str(f, (const char *)kv->value + 8, len, 200);
        return;
    }
    if (kv->type != GGUF_VALUE_ARRAY) {
        print_scalar(f, kv->type, kv->value);
        return;
    }
    fprintf(f, "[%s x %llu] ", gguf_value_type_name(kv->elem_type), (unsigned long long)kv->count);
    for (uint64_t i = 0; i < kv->count && i < ARRAY_PREVIEW; i++) {
        if (i)
            fputs(", ", f);
        if (kv->elem_type == GGUF_VALUE_STRING) {
            struct gguf_str s = gguf_kv_array_str(kv, i);
            print_str(f, s.data, s.len, 40);
        } else if (kv->elem_type == GGUF_VALUE_UINT64 && is_checksum_key(kv->key)) {
            uint64_t x;
            memcpy(&x, kv->value + 8 * i, 8);
            fprintf(f, "%016llx", (unsigned long long)x);
        } else {
            print_scalar(f, kv->elem_type, kv->value + i * gguf_value_type_size(kv->elem_type));
        }
    }
    if (kv->count > ARRAY_PREVIEW)
        fputs(", ...", f);
}

static json_t *json_scalar(int type, const uint8_t *p)
{
    double v = gguf_scalar_as_f64(type, p);
    if (type == GGUF_VALUE_BOOL)
        return json_boolean(v != 0);
    if (type == GGUF_VALUE_FLOAT32 || type == GGUF_VALUE_FLOAT64)
        return json_real(v);
    if (type == GGUF_VALUE_UINT64) {
        uint64_t u;
        memcpy(&u, p, 8);
        /* JSON integers are signed 64-bit in jansson: checksums go out as hex strings */
        char hex[24];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)u);
        return u > (uint64_t)INT64_MAX ? json_string(hex) : json_integer((json_int_t)u);
    }
    if (type == GGUF_VALUE_INT64) {
        int64_t s;
        memcpy(&s, p, 8);
        return json_integer(s);
    }
    return json_integer((json_int_t)v);
}

static json_t *json_value(const struct gguf_kv *kv, bool full_arrays, json_t *warnings, const char *key)
{
    char what[512];
    snprintf(what, sizeof what, "metadata key '%s'", key);
    if (kv->type == GGUF_VALUE_STRING) {
        uint64_t len;
        memcpy(&len, kv->value, 8);
        return json_str((const char *)kv->value + 8, (size_t)len, warnings, what);
    }
    if (kv->type != GGUF_VALUE_ARRAY)
        return json_scalar(kv->type, kv->value);
    json_t *arr = json_array();
    uint64_t n = full_arrays ? kv->count : (kv->count < ARRAY_PREVIEW ? kv->count : ARRAY_PREVIEW);
    for (uint64_t i = 0; i < n; i++) {
        if (kv->elem_type == GGUF_VALUE_STRING) {
            struct gguf_str s = gguf_kv_array_str(kv, i);
            char elem[600];
            snprintf(elem, sizeof elem, "%s[%llu]", what, (unsigned long long)i);
            json_array_append_new(arr, json_str(s.data, (size_t)s.len, warnings, elem));
        } else {
            json_array_append_new(arr, json_scalar(kv->elem_type, kv->value + i * gguf_value_type_size(kv->elem_type)));
        }
    }
    if (full_arrays)
        return arr;
    return json_pack("{s:s, s:s, s:I, s:o}", "type", "ARRAY", "elem_type", gguf_value_type_name(kv->elem_type),
                     "count", (json_int_t)kv->count, "head", arr);
}

/* ---- GGUF files ------------------------------------------------------------------------------ */

static int64_t tensor_elems(const struct gguf_tensor_info *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

static void shape_text(const int64_t *ne, int n_dims, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int d = 0; d < n_dims; d++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%lld", d ? " x " : "", (long long)ne[d]);
}

/* Totals per tensor type, keyed by the full type id (ingot's ids lie above ggml's). */
#define MAX_TYPES 64

struct type_totals {
    int n;
    int type[MAX_TYPES];
    int64_t count[MAX_TYPES];
    uint64_t bytes[MAX_TYPES];
};

static void type_totals_add(struct type_totals *tt, int type, uint64_t bytes)
{
    int k = 0;
    while (k < tt->n && tt->type[k] != type)
        k++;
    if (k == tt->n) {
        if (tt->n == MAX_TYPES)
            return;   /* more distinct types than any file has: the table stays partial */
        tt->type[tt->n++] = type;
    }
    tt->count[k]++;
    tt->bytes[k] += bytes;
}

static void type_totals_of(const struct gguf_file *g, struct type_totals *tt)
{
    memset(tt, 0, sizeof *tt);
    for (int64_t i = 0; i < gguf_n_tensors(g); i++)
        type_totals_add(tt, gguf_tensor_at(g, i)->type, gguf_tensor_at(g, i)->size_bytes);
}

static bool is_ingot_key(struct gguf_str key)
{
    return key.len >= 6 && memcmp(key.data, "ingot.", 6) == 0;
}

static void print_gguf(const struct gguf_file *g, const char *path)
{
    char b[32];
    printf("file: %s\nformat: GGUF v%u, %s, alignment %u, data section at byte %llu\n", path, gguf_version(g),
           cli_bytes(gguf_file_size(g), b, sizeof b), gguf_alignment(g), (unsigned long long)gguf_data_offset(g));
    printf("\nmetadata (%lld keys):\n", (long long)gguf_n_kv(g));
    for (int64_t i = 0; i < gguf_n_kv(g); i++) {
        const struct gguf_kv *kv = gguf_kv_at(g, i);
        if (is_ingot_key(kv->key))
            continue;
        printf("  ");
        print_name(kv->key.data, kv->key.len, 44);
        printf(" %-8s ", gguf_value_type_name(kv->type));
        print_value(stdout, kv);
        putchar('\n');
    }
    printf("\ntensors (%lld; shape in ggml order, ne[0] first):\n", (long long)gguf_n_tensors(g));
    printf("  %-4s %-34s %-7s %-20s %12s %7s\n", "#", "name", "type", "shape", "bytes", "bpw");
    uint64_t total_bytes = 0;
    int64_t total_elems = 0;
    struct type_totals tt;
    type_totals_of(g, &tt);
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        char shape[64];
        int64_t n = tensor_elems(t);
        shape_text(t->ne, t->n_dims, shape, sizeof shape);
        printf("  %-4lld ", (long long)i);
        print_name(t->name, strlen(t->name), 34);
        printf(" %-7s %-20s %12llu %7.3f\n", ggml_type_name(t->type), shape,
               (unsigned long long)t->size_bytes, n ? 8.0 * (double)t->size_bytes / (double)n : 0.0);
        total_bytes += t->size_bytes;
        total_elems += n;
    }
    printf("\ntotals: %lld tensors, %lld weights, %s (%llu bytes), %.3f bits per weight\n",
           (long long)gguf_n_tensors(g), (long long)total_elems, cli_bytes(total_bytes, b, sizeof b),
           (unsigned long long)total_bytes, total_elems ? 8.0 * (double)total_bytes / (double)total_elems : 0.0);
    for (int k = 0; k < tt.n; k++)
        printf("  %-7s %4lld tensors  %s\n", ggml_type_name(tt.type[k]), (long long)tt.count[k],
               cli_bytes(tt.bytes[k], b, sizeof b));
    printf("\nprovenance:\n");
    int n_ingot = 0;
    for (int64_t i = 0; i < gguf_n_kv(g); i++) {
        const struct gguf_kv *kv = gguf_kv_at(g, i);
        if (!is_ingot_key(kv->key))
            continue;
        n_ingot++;
        printf("  ");
        print_name(kv->key.data, kv->key.len, 44);
        putchar(' ');
        print_value(stdout, kv);
        putchar('\n');
    }
    if (!n_ingot)
        printf("  none: this file was not written by ingot (no ingot.* keys)\n");
}

static json_t *gguf_json(const struct gguf_file *g, const char *path)
{
    json_t *meta = json_object(), *prov = json_object(), *tensors = json_array(), *warnings = json_array();
    for (int64_t i = 0; i < gguf_n_kv(g); i++) {
        const struct gguf_kv *kv = gguf_kv_at(g, i);
        char what[64];
        snprintf(what, sizeof what, "the name of metadata key %lld", (long long)i);
        json_t *name = json_str(kv->key.data, (size_t)kv->key.len, warnings, what);
        const char *key = json_string_value(name);
        json_t *target = is_ingot_key(kv->key) ? prov : meta;
        if (key && json_object_get(target, key))
            json_array_append_new(warnings, json_sprintf("metadata key %lld: its name, made valid UTF-8, is the name of "
                                                         "an earlier key; only the later value is shown", (long long)i));
        if (key)
            json_object_set_new(target, key, json_value(kv, is_ingot_key(kv->key), warnings, key));
        json_decref(name);
    }
    uint64_t total_bytes = 0;
    int64_t total_elems = 0;
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor_at(g, i);
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++)
            json_array_append_new(shape, json_integer(t->ne[d]));
        int64_t n = tensor_elems(t);
        char what[64];
        snprintf(what, sizeof what, "the name of tensor %lld", (long long)i);
        json_array_append_new(tensors, json_pack("{s:o, s:s, s:i, s:o, s:I, s:I, s:o}", "name",
                                                 json_str(t->name, strlen(t->name), warnings, what), "type",
                                                 ggml_type_name(t->type), "type_id", t->type, "shape", shape,
                                                 "offset", (json_int_t)t->offset, "bytes", (json_int_t)t->size_bytes,
                                                 "bits_per_weight",
                                                 n ? json_real(8.0 * (double)t->size_bytes / (double)n) : json_null()));
        total_bytes += t->size_bytes;
        total_elems += n;
    }
    struct type_totals tt;
    type_totals_of(g, &tt);
    json_t *by_type = json_array();
    for (int k = 0; k < tt.n; k++)
        json_array_append_new(by_type, json_pack("{s:s, s:i, s:I, s:I}", "type", ggml_type_name(tt.type[k]), "type_id",
                                                 tt.type[k], "tensors", (json_int_t)tt.count[k], "bytes",
                                                 (json_int_t)tt.bytes[k]));
    for (size_t k = 0; k < json_array_size(warnings); k++) {
        const char *w = json_string_value(json_array_get(warnings, k));
        fprintf(stderr, "ingot inspect: warning: %s: ", path);
        cli_fputs_escaped(stderr, w, strlen(w), false);
        fputc('\n', stderr);
    }
    return json_pack("{s:s, s:s, s:i, s:I, s:i, s:o, s:o, s:{s:I, s:I, s:I, s:o, s:o}, s:o, s:o}", "file", path, "format",
                     "gguf", "version", (int)gguf_version(g), "size_bytes", (json_int_t)gguf_file_size(g), "alignment",
                     (int)gguf_alignment(g), "metadata", meta, "tensors", tensors, "totals", "tensors",
                     (json_int_t)gguf_n_tensors(g), "weights", (json_int_t)total_elems, "bytes",
                     (json_int_t)total_bytes, "bits_per_weight",
                     total_elems ? json_real(8.0 * (double)total_bytes / (double)total_elems) : json_null(), "by_type",
                     by_type, "provenance", prov, "warnings", warnings);
}

/* ---- sources --------------------------------------------------------------------------------- */

static const char *kind_name(enum model_src_kind k)
{
    return k == MODEL_SRC_HF ? "HF folder" : k == MODEL_SRC_GGUF ? "GGUF" : "llama2.c checkpoint";
}

static void print_source(const struct model_src *src)
{
    const struct model_hparams *hp = &src->hp;
    char fmt[512];
    printf("source: %s (%s)\n", src->path, kind_name(src->kind));
    if (src->kind == MODEL_SRC_HF)
        printf("format: %s\n", inspect_hf_format(src->path, NULL, fmt, sizeof fmt));
    if (model_src_quant_desc(src))   /* a GPTQ/AWQ/bitsandbytes folder (formats/hf_quant.h) */
        printf("quantization: %s\n", model_src_quant_desc(src));
    for (int i = 0; i < src->n_files; i++)
        printf("  file %s (%llu bytes)\n", src->files[i].path, (unsigned long long)src->files[i].size_bytes);
    printf("\narchitecture %s: %lld blocks, embedding %lld, feed-forward %lld, heads %lld (kv %lld, dim %lld), "
           "vocab %lld, context %lld, rms eps %g, rope theta %g%s\n",
           hp->arch, (long long)hp->n_layer, (long long)hp->n_embd, (long long)hp->n_ff, (long long)hp->n_head,
           (long long)hp->n_head_kv, (long long)hp->head_dim, (long long)hp->n_vocab, (long long)hp->n_ctx_train,
           (double)hp->rms_eps, (double)hp->rope_theta, hp->tie_embeddings ? ", tied embeddings" : "");
    printf("tokenizer: %s, %lld tokens, bos %lld, eos %lld\n", src->vocab.model, (long long)src->vocab.n_tokens,
           (long long)src->vocab.bos_id, (long long)src->vocab.eos_id);
    printf("\ntensors (%lld, GGUF names; shape in ggml order):\n", (long long)src->n_tensors);
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const struct src_tensor *t = &src->tensors[i];
        char shape[64];
        shape_text(t->ne, t->n_dims, shape, sizeof shape);
        printf("  ");
        print_name(t->name, strlen(t->name), 34);
        printf(" %-5s %-16s %12llu  from ", src_tensor_type_name(t), shape, (unsigned long long)t->size_bytes);
        cli_fputs_escaped(stdout, t->src_name, strlen(t->src_name), false);
        printf("%s\n", t->permute_n_head ? " (rows permuted for rope)" : "");
    }
}

static json_t *source_json(const struct model_src *src)
{
    const struct model_hparams *hp = &src->hp;
    json_t *tensors = json_array();
    for (int64_t i = 0; i < src->n_tensors; i++) {
        const struct src_tensor *t = &src->tensors[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++)
            json_array_append_new(shape, json_integer(t->ne[d]));
        json_array_append_new(tensors, json_pack("{s:s, s:s, s:s, s:o, s:I, s:b}", "name", t->name, "source_name",
                                                 t->src_name, "type", src_tensor_type_name(t), "shape", shape, "bytes",
                                                 (json_int_t)t->size_bytes, "permuted", t->permute_n_head > 0));
    }
    json_t *hpj = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:b}", "arch", hp->arch, "n_layer",
                            (json_int_t)hp->n_layer, "n_embd", (json_int_t)hp->n_embd, "n_ff", (json_int_t)hp->n_ff,
                            "n_head", (json_int_t)hp->n_head, "n_head_kv", (json_int_t)hp->n_head_kv, "head_dim",
                            (json_int_t)hp->head_dim, "n_vocab", (json_int_t)hp->n_vocab, "n_ctx_train",
                            (json_int_t)hp->n_ctx_train, "rms_eps", (double)hp->rms_eps, "rope_theta",
                            (double)hp->rope_theta, "tie_embeddings", hp->tie_embeddings);
    json_t *j = json_pack("{s:s, s:s, s:o, s:{s:s, s:I}, s:o}", "file", src->path, "format", kind_name(src->kind),
                          "hparams", hpj, "tokenizer", "model", src->vocab.model, "n_tokens",
                          (json_int_t)src->vocab.n_tokens, "tensors", tensors);
    char fmt[512];
    if (j && src->kind == MODEL_SRC_HF)
        json_object_set_new(j, "storage", json_string(inspect_hf_format(src->path, NULL, fmt, sizeof fmt)));
    if (j && model_src_quant_desc(src))
        json_object_set_new(j, "quantization", json_string(model_src_quant_desc(src)));
    return j;
}

/* ---- the command ------------------------------------------------------------------------------- */

int cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'}, {"json-out", required_argument, 0, 'J'},
                                             {"tensor", required_argument, 0, 't'},
                                             {"dump-f32", required_argument, 0, 'd'},
                                             {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    bool as_json = false;
    const char *json_out = NULL, *tensor = NULL, *dump = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else if (c == 'J')
            json_out = optarg;
        else if (c == 't')
            tensor = optarg;
        else if (c == 'd')
            dump = optarg;
        else if (c == 'h')
            return fputs(inspect_usage, stdout), EXIT_OK;
        else
            return cli_usage_error("inspect", "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cli_usage_error("inspect", "expected one FILE or FOLDER");
    const char *path = argv[optind];
    if (dump && !tensor)
        return cli_usage_error("inspect", "--dump-f32 needs --tensor NAME");
    if (tensor && !tensor[0])
        return cli_usage_error("inspect", "--tensor: the name is empty");
    if (dump && json_out && strcmp(dump, json_out) == 0)
        return cli_usage_error("inspect", "--dump-f32 and --json-out name the same file '%s'", dump);
    if (tensor) {
        struct inspect_tensor_opts o = {path, tensor, dump, as_json, json_out};
        return inspect_tensor_run(&o);
    }
    int rc;
    if (inspect_is_gguf(path)) {
        struct gguf_file *g = NULL;
        if ((rc = gguf_open(&g, path)))
            return cli_fail("inspect", rc);
        if (!as_json)
            print_gguf(g, path);
        rc = as_json || json_out ? cli_json_emit(gguf_json(g, path), as_json, json_out) : 0;
        gguf_close(g);
        return rc ? cli_fail("inspect", rc) : EXIT_OK;
    }
    struct model_src *src = NULL;
    if ((rc = cli_model_src_open(&src, path, NULL)))
        return cli_fail("inspect", rc);
    if (!as_json)
        print_source(src);
    rc = as_json || json_out ? cli_json_emit(source_json(src), as_json, json_out) : 0;
    model_src_close(src);
    return rc ? cli_fail("inspect", rc) : EXIT_OK;
}
