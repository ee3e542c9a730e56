/* cmd_convert.c — `ingot convert SRC -o OUT.gguf --type T`.
 *
 * Opens the source (formats/model_src), plans each tensor's type (plan.c), writes
 * llama.cpp's metadata and ingot's provenance keys, then streams one tensor at a time
 * from the source mapping through the type's reference quantizer into the GGUF writer.
 * Peak memory is one chunk of rows, not the model.
 */
#include "cli.h"
#include "plan.h"

#include "../common/ig_error.h"
#include "../formats/ggml_type.h"
#include "../formats/gguf.h"
#include "../formats/gguf_meta.h"
#include "../formats/gguf_write.h"
#include "../formats/imatrix.h"
#include "../formats/model_src.h"
#include "../quantizers/quant_type.h"

#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CHUNK_ELEMS (1 << 22)   /* floats converted per step: 16 MiB of fp32 */

static const char convert_usage[] =
    "usage: ingot convert SRC -o OUT.gguf [--type F32|F16|BF16] [options]\n"
    "\n"
    "SRC is an HF folder (config.json, *.safetensors, tokenizer.model or tokenizer.json),\n"
    "a GGUF file (F32/F16/BF16), or a llama2.c .bin checkpoint.\n"
    "\n"
    "  -o, --output FILE     the GGUF file to write (replaced atomically)\n"
    "  -t, --type T          F32, F16 (default), BF16, or a llama.cpp mix: Q8_0, Q4_0, Q4_1,\n"
    "                        Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M,\n"
    "                        Q5_K_S, Q5_K_M, Q6_K (per-tensor types as llama-quantize picks them)\n"
    "      --tensor-type RE=T  tensors whose name matches the extended regex RE get type T\n"
    "                        (repeatable; the first match wins; skips the mix's rules)\n"
    "      --output-type T   type of output.weight\n"
    "      --embed-type T    type of token_embd.weight\n"
    "      --pure            every quantized tensor gets the mix's base type\n"
    "      --imatrix FILE    importance matrix (llama.cpp GGUF or .dat, or from 'ingot imatrix')\n"
    "                        weighting the quantization error, as llama-quantize uses it\n"
    "      --tokenizer FILE  tokenizer for a llama2.c checkpoint (default: beside it)\n"
    "      --tie-embeddings  tied models: write token_embd.weight only, as llama.cpp's\n"
    "                        HF converter does (default: also write output.weight)\n"
    "  -q, --quiet           no progress output\n";

struct convert_opts {
    const char *src_path;
    const char *out_path;
    const char *tokenizer;
    const struct file_type *ft;
    struct plan_opts plan;
    const char *imatrix_path;
    struct imatrix imatrix;
    bool quiet;
};

/* A ggml tensor type named on the command line (F16, Q4_K, ...). */
static int parse_tensor_type(const char *opt, const char *name, int *type)
{
    *type = ggml_type_from_name(name);
    if (*type < 0 || !quant_type_get(*type))
        return cli_usage_error("convert", "%s: '%s' is not a tensor type this build writes", opt, name);
    return 0;
}

static int parse_override(struct plan_opts *p, char *arg)
{
    char *eq = strrchr(arg, '=');
    if (!eq || eq == arg)
        return cli_usage_error("convert", "--tensor-type '%s': expected REGEX=TYPE", arg);
    if (p->n_overrides == PLAN_MAX_OVERRIDES)
        return cli_usage_error("convert", "more than %d --tensor-type options", PLAN_MAX_OVERRIDES);
    *eq = '\0';
    p->override_pattern[p->n_overrides] = arg;
    int rc = parse_tensor_type("--tensor-type", eq + 1, &p->override_type[p->n_overrides]);
    if (!rc)
        p->n_overrides++;
    return rc;
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct convert_opts *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},   {"type", required_argument, 0, 't'},
        {"tokenizer", required_argument, 0, 'k'}, {"tie-embeddings", no_argument, 0, 'e'},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        {"tensor-type", required_argument, 0, 'T'}, {"output-type", required_argument, 0, 'O'},
        {"embed-type", required_argument, 0, 'E'}, {"pure", no_argument, 0, 'p'},
        {"imatrix", required_argument, 0, 'I'},
        {0, 0, 0, 0},
    };
    int c, rc;
    memset(o, 0, sizeof *o);
    o->ft = plan_file_type_find("F16");
    o->plan.output_type = o->plan.embed_type = -1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->out_path = optarg; break;
        case 't':
            o->ft = plan_file_type_find(optarg);
            if (!o->ft)
                return cli_usage_error("convert", "--type '%s' is not supported (supported: %s)", optarg,
                                       plan_file_type_names());
            break;
        case 'k': o->tokenizer = optarg; break;
        case 'e': o->plan.flags |= PLAN_TIE_EMBEDDINGS; break;
        case 'p': o->plan.flags |= PLAN_PURE; break;
        case 'I': o->imatrix_path = optarg; o->plan.flags |= PLAN_HAS_IMATRIX; break;
        case 'T': if ((rc = parse_override(&o->plan, optarg))) return rc; break;
        case 'O': if ((rc = parse_tensor_type("--output-type", optarg, &o->plan.output_type))) return rc; break;
        case 'E': if ((rc = parse_tensor_type("--embed-type", optarg, &o->plan.embed_type))) return rc; break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(convert_usage, stdout); exit(EXIT_OK);
        default:
            return cli_usage_error("convert", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("convert", optind >= argc ? "missing SRC" : "more than one SRC given");
    o->src_path = argv[optind];
    if (!o->out_path)
        return cli_usage_error("convert", "missing -o OUT.gguf");
    return 0;
}

/* ---- metadata ------------------------------------------------------------------------------ */

static bool skip_source_key(struct gguf_str key)
{
    static const char *dropped[] = {"general.file_type", "general.quantization_version", "general.alignment"};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++)
        if (gguf_str_eq(key, dropped[i]))
            return true;
    return key.len >= 6 && memcmp(key.data, "ingot.", 6) == 0;
}

/* GGUF source: keep its keys in order (as llama-quantize does), then the file type. */
static int write_gguf_source_keys(struct gguf_writer *w, const struct model_src *src)
{
    const struct gguf_file *g = src->gguf;
    int rc = 0;
    for (int64_t i = 0; i < gguf_n_kv(g) && !rc; i++) {
        const struct gguf_kv *kv = gguf_kv_at(g, i);
        if (skip_source_key(kv->key))
            continue;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 255 ? kv->key.len : 255), kv->key.data);
        rc = gguf_writer_add_raw(w, key, kv->type, kv->elem_type, kv->count, kv->value, kv->value_bytes);
    }
    return rc;
}

static const char *source_kind_name(enum model_src_kind k)
{
    return k == MODEL_SRC_HF ? "hf" : k == MODEL_SRC_GGUF ? "gguf" : "llama2c";
}

/* ingot.* provenance; returns the handle of the source-checksum placeholder in *ph_src. */
static int write_provenance(struct gguf_writer *w, const struct model_src *src, const struct plan *plan, int *ph_src)
{
    const char *names[64];
    uint64_t sizes[64];
    int n = src->n_files < 64 ? src->n_files : 64;
    for (int i = 0; i < n; i++) {
        names[i] = strrchr(src->files[i].path, '/') ? strrchr(src->files[i].path, '/') + 1 : src->files[i].path;
        sizes[i] = src->files[i].size_bytes;
    }
    int rc = gguf_writer_add_u32(w, "ingot.format_version", 1);
    if (!rc)
        rc = gguf_writer_add_str(w, "ingot.version", INGOT_VERSION);
    if (!rc)
        rc = gguf_writer_add_str(w, "ingot.source.kind", source_kind_name(src->kind));
    if (!rc)
        rc = gguf_writer_add_arr_str(w, "ingot.source.files", names, (uint64_t)n);
    if (!rc)
        rc = gguf_writer_add_arr_u64(w, "ingot.source.file_sizes", sizes, (uint64_t)n);
    if (!rc)
        rc = gguf_writer_add_str(w, "ingot.method", plan->file_type->quantized ? "rtn" : "none");
    if (!rc)
        rc = gguf_writer_add_str(w, "ingot.type", plan->file_type->name);
    if (rc)
        return rc;
    *ph_src = gguf_writer_add_u64_placeholder(w, "ingot.source.tensor_xxh3", (uint64_t)plan->n_entries);
    return *ph_src < 0 ? *ph_src : 0;
}

/* llama-quantize's record of the importance matrix it used (after general.file_type). */
static int write_imatrix_keys(struct gguf_writer *w, const struct convert_opts *o)
{
    if (!o->imatrix_path)
        return 0;
    int rc = gguf_writer_add_str(w, "quantize.imatrix.file", o->imatrix_path);
    if (!rc)
        rc = gguf_writer_add_str(w, "quantize.imatrix.dataset", o->imatrix.dataset);
    if (!rc)
        rc = gguf_writer_add_u32(w, "quantize.imatrix.entries_count", (uint32_t)o->imatrix.n_entries);
    if (!rc)
        rc = gguf_writer_add_u32(w, "quantize.imatrix.chunks_count", (uint32_t)o->imatrix.chunk_count);
    return rc;
}

static int write_keys(struct gguf_writer *w, const struct convert_opts *o, const struct model_src *src,
                      const struct plan *plan, int *ph_src)
{
    int rc;
    const struct file_type *ft = plan->file_type;
    if (src->kind == MODEL_SRC_GGUF) {
        /* llama-quantize: the input's keys, then quantization_version and file_type */
        rc = write_gguf_source_keys(w, src);
        if (!rc)
            rc = gguf_meta_write_file_type(w, ft->ftype, 1);
    } else {
        /* llama.cpp's converter writes file_type before the tokenizer; a quantized file is
         * what llama-quantize makes of that, with both keys moved to the end */
        rc = gguf_meta_write_hparams(w, &src->hp);
        if (!rc && !ft->quantized)
            rc = gguf_meta_write_file_type(w, ft->ftype, 0);
        if (!rc)
            rc = gguf_meta_write_vocab(w, &src->vocab);
        if (!rc && ft->quantized)
            rc = gguf_meta_write_file_type(w, ft->ftype, 1);
    }
    if (!rc)
        rc = write_imatrix_keys(w, o);
    return rc ? rc : write_provenance(w, src, plan, ph_src);
}

/* ---- tensor data ----------------------------------------------------------------------------- */

/* Rows [r0, r0 + n) of t as fp32, whatever its stored type. */
static int read_rows_f32(const struct src_tensor *t, int64_t r0, int64_t n, float *dst)
{
    const struct quant_type *sq = quant_type_get(t->type);
    if (t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16 || !sq) {
        if (t->n_dims == 1 || n < 64)
            return src_tensor_read_rows_f32(t, r0, n, dst);
        int rc = 0;
#pragma omp parallel for schedule(static) reduction(min : rc)
        for (int64_t r = 0; r < n; r += 16) {
            int64_t k = n - r < 16 ? n - r : 16;
            int e = src_tensor_read_rows_f32(t, r0 + r, k, dst + r * t->ne[0]);
            rc = e < rc ? e : rc;
        }
        return rc;
    }
    const size_t row_bytes = quant_row_size_bytes(sq, t->ne[0]);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++)
        sq->dequantize_row_ref(t->data + (size_t)(r0 + r) * row_bytes, dst + r * t->ne[0], t->ne[0]);
    return 0;
}

/* Quantize n rows of f32 into packed, in parallel (rows are independent, so the bytes do
 * not depend on the thread count). */
static int quantize_rows(const struct quant_type *qt, const float *f32, int64_t n, int64_t n_cols, const float *imatrix,
                         uint8_t *packed)
{
    const size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    int rc = 0;
#pragma omp parallel for schedule(static) reduction(min : rc)
    for (int64_t r = 0; r < n; r++) {
        int k = qt->quantize_row_ref(f32 + r * n_cols, packed + (size_t)r * row_bytes, n_cols, imatrix);
        rc = k < rc ? k : rc;
    }
    return rc;
}

/* Stream one tensor: raw copy when nothing changes, else rows through the quantizer. */
static int write_tensor(struct gguf_writer *w, const struct plan_entry *e, const struct imatrix *im, float *f32,
                        uint8_t *packed)
{
    const struct src_tensor *t = e->src;
    if (t->type == e->type && t->permute_n_head == 0) {
        for (uint64_t off = 0; off < t->size_bytes; off += (uint64_t)CHUNK_ELEMS) {
            uint64_t n = t->size_bytes - off < (uint64_t)CHUNK_ELEMS ? t->size_bytes - off : (uint64_t)CHUNK_ELEMS;
            int rc = gguf_writer_write(w, t->data + off, (size_t)n);
            if (rc)
                return rc;
        }
        return gguf_writer_end_tensor(w);
    }
    const struct quant_type *qt = quant_type_get(e->type);
    int64_t n_cols = t->ne[0], n_rows = src_tensor_n_rows(t);
    int64_t rows_per_chunk = n_cols > 0 && n_cols < CHUNK_ELEMS ? CHUNK_ELEMS / n_cols : 1;
    size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    /* llama-quantize uses an entry only when its length is the row length */
    const float *imatrix = imatrix_find(im, t->name, n_cols);
    for (int64_t r0 = 0; r0 < n_rows; r0 += rows_per_chunk) {
        int64_t nr = n_rows - r0 < rows_per_chunk ? n_rows - r0 : rows_per_chunk;
        int rc = read_rows_f32(t, r0, nr, f32);
        if (!rc)
            rc = quantize_rows(qt, f32, nr, n_cols, imatrix, packed);
        if (!rc)
            rc = gguf_writer_write(w, packed, (size_t)nr * row_bytes);
        if (rc)
            return ig_error_wrap(rc, "tensor '%s'", t->name);
    }
    return gguf_writer_end_tensor(w);
}

static int write_all(struct gguf_writer *w, const struct plan *plan, const struct imatrix *im, int ph_src, bool quiet,
                     uint64_t *bytes_out)
{
    int64_t max_cols = 1;
    for (int64_t i = 0; i < plan->n_entries; i++)
        if (plan->entries[i].src->ne[0] > max_cols)
            max_cols = plan->entries[i].src->ne[0];
    size_t chunk = (size_t)(max_cols > CHUNK_ELEMS ? max_cols : CHUNK_ELEMS);
    float *f32 = ig_malloc(chunk * sizeof *f32);
    uint8_t *packed = ig_malloc(chunk * sizeof(float));
    int rc = f32 && packed ? 0 : IG_ENOMEM;
    struct progress prog;
    progress_begin(&prog, plan->n_entries, quiet);
    for (int64_t i = 0; i < plan->n_entries && !rc; i++) {
        const struct plan_entry *e = &plan->entries[i];
        rc = write_tensor(w, e, im, f32, packed);
        if (!rc)
            rc = gguf_writer_set_u64_placeholder(w, ph_src, (uint64_t)i, XXH3_64bits(e->src->data, e->src->size_bytes));
        *bytes_out += gguf_writer_tensor_size(w, i);
        char label[96];
        snprintf(label, sizeof label, "%s %s", e->src->name, ggml_type_name(e->type));
        progress_step(&prog, label);
    }
    progress_end(&prog);
    free(f32);
    free(packed);
    return rc;
}

static int add_tensor_infos(struct gguf_writer *w, const struct plan *plan)
{
    int rc = 0;
    for (int64_t i = 0; i < plan->n_entries && !rc; i++) {
        const struct src_tensor *t = plan->entries[i].src;
        rc = gguf_writer_add_tensor(w, t->name, t->n_dims, t->ne, plan->entries[i].type);
    }
    return rc;
}

/* ---- the command -------------------------------------------------------------------------------- */

static int convert_run(const struct convert_opts *o, const struct model_src *src, struct plan *plan)
{
    struct gguf_writer *w = NULL;
    int ph_src = -1;
    uint64_t bytes = 0;
    double t0 = cli_now();
    int rc = gguf_writer_open(&w, o->out_path, GGUF_WRITER_CHECKSUMS);
    if (rc)
        return rc;
    cli_set_tmp_output(gguf_writer_tmp_path(w));
    const struct imatrix *im = o->imatrix_path ? &o->imatrix : NULL;
    if ((rc = write_keys(w, o, src, plan, &ph_src)) || (rc = add_tensor_infos(w, plan)) ||
        (rc = gguf_writer_begin_data(w)) || (rc = write_all(w, plan, im, ph_src, o->quiet, &bytes))) {
        gguf_writer_abort(w);
        cli_set_tmp_output(NULL);
        return rc;
    }
    rc = gguf_writer_finish(w);
    cli_set_tmp_output(NULL);
    if (rc)
        return rc;
    char b[32];
    int64_t n_params = 0;
    for (int64_t i = 0; i < plan->n_entries; i++) {
        const struct src_tensor *t = plan->entries[i].src;
        n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    printf("wrote %s: %lld tensors, %s of tensor data, %.2f bits per weight, type %s, %.2fs\n", o->out_path,
           (long long)plan->n_entries, cli_bytes(bytes, b, sizeof b), n_params ? 8.0 * (double)bytes / (double)n_params : 0.0,
           plan->file_type->name, cli_now() - t0);
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    struct convert_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    struct model_src *src = NULL;
    struct plan plan = {0};
    rc = model_src_open(&src, o.src_path, o.tokenizer);
    if (!rc && o.imatrix_path)
        rc = imatrix_read(&o.imatrix, o.imatrix_path);
    if (!rc)
        rc = plan_make(&plan, src, o.ft, &o.plan);
    if (!rc)
        rc = plan_check_writable(&plan);
    if (!rc)
        rc = convert_run(&o, src, &plan);
    plan_free(&plan);
    imatrix_free(&o.imatrix);
    model_src_close(src);
    return rc ? cli_fail("convert", rc) : EXIT_OK;
}
