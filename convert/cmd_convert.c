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
#include "../calib/calib.h"
#include "../calib/imatrix_calc.h"
#include "../kernels/backend.h"
#include "../verify/verify.h"
#include <jansson.h>
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
    "  -m, --method M        rtn (default), gptq, awq or awq+gptq; the last three need --calib.\n"
    "                        rtn with --calib computes the importance matrix from the text first\n"
    "      --calib TEXT      calibration text: a file, or a folder of .txt files\n"
    "      --samples N       calibration windows (default 128)\n"
    "      --seq-len L       tokens per window (default min(512, the model's context))\n"
    "      --seed S          seed of the window choice (default 0)\n"
    "      --damp F          GPTQ damping, a fraction of the mean Hessian diagonal (default 0.01)\n"
    "      --act-order       GPTQ: columns by descending Hessian diagonal (static groups)\n"
    "      --json FILE       write the per-layer error report as JSON (needs --calib)\n"
    "      --threads N       CPU threads (default: all cores)\n"
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
    const char *method;          /* "rtn", "gptq", "awq", "awq+gptq" */
    const char *calib_path, *json_path;
    int64_t samples, seq_len, threads;
    uint64_t seed;
    float damp;
    bool act_order;
    struct calib_corpus corpus;
    struct calib_result calib;   /* calibrated tensors, when a method ran */
    bool have_calib;
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
        {"method", required_argument, 0, 'm'},    {"calib", required_argument, 0, 'C'},
        {"samples", required_argument, 0, 'S'},   {"seq-len", required_argument, 0, 'L'},
        {"seed", required_argument, 0, 'D'},      {"damp", required_argument, 0, 'P'},
        {"act-order", no_argument, 0, 'A'},       {"json", required_argument, 0, 'J'},
        {"threads", required_argument, 0, 'N'},
        {0, 0, 0, 0},
    };
    int c, rc;
    memset(o, 0, sizeof *o);
    o->ft = plan_file_type_find("F16");
    o->plan.output_type = o->plan.embed_type = -1;
    o->method = "rtn";
    o->samples = 128;
    o->damp = 0.01f;
    int64_t v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:m:qh", longopts, NULL)) != -1) {
        const char *opt = argv[optind - 1];
        switch (c) {
        case 'm':
            if (strcmp(optarg, "rtn") && strcmp(optarg, "gptq") && strcmp(optarg, "awq") && strcmp(optarg, "awq+gptq"))
                return cli_usage_error("convert", "--method '%s': expected rtn, gptq, awq or awq+gptq", optarg);
            o->method = optarg;
            break;
        case 'C': o->calib_path = optarg; break;
        case 'J': o->json_path = optarg; break;
        case 'A': o->act_order = true; break;
        case 'S': if (!cli_parse_int("convert", opt, optarg, 1, 1 << 20, &o->samples)) return EXIT_BAD_INPUT; break;
        case 'L': if (!cli_parse_int("convert", opt, optarg, 2, 1 << 20, &o->seq_len)) return EXIT_BAD_INPUT; break;
        case 'N': if (!cli_parse_int("convert", opt, optarg, 1, 4096, &o->threads)) return EXIT_BAD_INPUT; break;
        case 'D': if (!cli_parse_int("convert", opt, optarg, 0, INT64_MAX, &v)) return EXIT_BAD_INPUT; o->seed = (uint64_t)v; break;
        case 'P': {
            char *end;
            o->damp = strtof(optarg, &end);
            if (*end || !(o->damp > 0.0f && o->damp < 10.0f))
                return cli_usage_error("convert", "--damp '%s': expected a number in (0, 10)", optarg);
            break;
        }
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
    if (strcmp(o->method, "rtn") != 0 && !o->calib_path)
        return cli_usage_error("convert", "--method %s needs --calib TEXT", o->method);
    if (strcmp(o->method, "rtn") != 0 && !o->ft->quantized)
        return cli_usage_error("convert", "--method %s needs a quantized --type", o->method);
    if (o->calib_path && o->imatrix_path)
        return cli_usage_error("convert", "--calib and --imatrix both give importance; pass one");
    if (o->json_path && !o->calib_path)
        return cli_usage_error("convert", "--json writes the per-layer error report, which needs --calib TEXT");
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
static int write_provenance(struct gguf_writer *w, const struct convert_opts *o, const struct model_src *src,
                            const struct plan *plan, int *ph_src)
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
        rc = gguf_writer_add_str(w, "ingot.method", plan->file_type->quantized ? o->method : "none");
    if (!rc)
        rc = gguf_writer_add_str(w, "ingot.type", plan->file_type->name);
    if (!rc && o->calib_path) {
        rc = gguf_writer_add_u64(w, "ingot.calib.xxh3", o->corpus.xxh3);
        if (!rc)
            rc = gguf_writer_add_u64(w, "ingot.calib.bytes", o->corpus.n_bytes);
        if (!rc)
            rc = gguf_writer_add_u32(w, "ingot.calib.samples", (uint32_t)o->samples);
        if (!rc)
            rc = gguf_writer_add_u32(w, "ingot.calib.seq_len", (uint32_t)o->seq_len);
        if (!rc)
            rc = gguf_writer_add_u64(w, "ingot.calib.seed", o->seed);
    }
    if (!rc && o->have_calib && strstr(o->method, "gptq")) {
        rc = gguf_writer_add_f32(w, "ingot.gptq.damp", o->damp);
        if (!rc)
            rc = gguf_writer_add_bool(w, "ingot.gptq.act_order", o->act_order);
    }
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
    return rc ? rc : write_provenance(w, o, src, plan, ph_src);
}

/* ---- tensor data ----------------------------------------------------------------------------- */

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
static int write_tensor(struct gguf_writer *w, const struct plan_entry *e, const struct imatrix *im,
                        const struct calib_result *calib, float *f32, uint8_t *packed)
{
    const struct src_tensor *t = e->src;
    const struct calib_tensor *ct = calib ? calib_result_find(calib, t->name) : NULL;
    if (ct) {
        if (ct->type != e->type)
            return ig_error_set(IG_EINVAL, "tensor '%s': calibrated as %s, planned as %s", t->name,
                                ggml_type_name(ct->type), ggml_type_name(e->type));
        int rc = gguf_writer_write(w, ct->data, ct->size_bytes);
        return rc ? rc : gguf_writer_end_tensor(w);
    }
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
        int rc = verify_read_rows_f32(t, r0, nr, f32);
        if (!rc)
            rc = quantize_rows(qt, f32, nr, n_cols, imatrix, packed);
        if (!rc)
            rc = gguf_writer_write(w, packed, (size_t)nr * row_bytes);
        if (rc)
            return ig_error_wrap(rc, "tensor '%s'", t->name);
    }
    return gguf_writer_end_tensor(w);
}

static int write_all(struct gguf_writer *w, const struct plan *plan, const struct imatrix *im,
                     const struct calib_result *calib, int ph_src, bool quiet, uint64_t *bytes_out)
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
        rc = write_tensor(w, e, im, calib, f32, packed);
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

/* ---- calibration ------------------------------------------------------------------------------------ */

static int planned_type(void *ctx, const char *name)
{
    const struct plan *plan = ctx;
    for (int64_t i = 0; i < plan->n_entries; i++)
        if (strcmp(plan->entries[i].src->name, name) == 0)
            return plan->entries[i].type;
    return -1;
}

static void on_block(void *ctx, int64_t done, int64_t total)
{
    struct progress *p = ctx;
    char label[64];
    snprintf(label, sizeof label, "block %lld of %lld calibrated", (long long)done, (long long)total);
    (void)total;
    progress_step(p, label);
}

/* Tokenize the corpus and draw the windows; fills o->corpus, o->seq_len. */
static int calib_windows(struct convert_opts *o, const struct model_src *src, int32_t **samples)
{
    int rc = calib_corpus_load(&o->corpus, o->calib_path, &src->vocab);
    if (rc)
        return rc;
    if (!o->seq_len)
        o->seq_len = src->hp.n_ctx_train > 0 && src->hp.n_ctx_train < 512 ? src->hp.n_ctx_train : 512;
    *samples = ig_malloc((size_t)(o->samples * o->seq_len) * sizeof **samples);
    if (!*samples)
        return IG_ENOMEM;
    int32_t bos = src->vocab.add_bos != 0 && src->vocab.bos_id >= 0 ? (int32_t)src->vocab.bos_id : -1;
    return calib_corpus_sample(&o->corpus, o->samples, o->seq_len, o->seed, bos, *samples);
}

/* --method gptq/awq/awq+gptq: run the driver; --method rtn --calib: compute the imatrix. */
static int calibrate(struct convert_opts *o, const struct model_src *src, const struct plan *plan)
{
    struct model *m = NULL;
    int32_t *samples = NULL;
    int rc = calib_windows(o, src, &samples);
    const bool imatrix = strcmp(o->method, "rtn") == 0;   /* the imatrix needs the whole forward */
    if (!rc)
        rc = imatrix ? model_create(&m, src, verify_fetch_f32, NULL) : model_create_streamed(&m, src, verify_fetch_f32, NULL);
    struct progress prog;
    if (!rc && imatrix) {
        struct imatrix_calc_opts io = {o->seq_len, o->samples, -1, NULL, NULL};
        /* the windows already start with BOS: compute over them back to back */
        snprintf(o->imatrix.dataset, sizeof o->imatrix.dataset, "%s", o->calib_path);
        rc = imatrix_compute(&o->imatrix, m, samples, o->samples * o->seq_len, &io);
        if (!rc)
            o->imatrix_path = o->calib_path;
    }
    if (!rc) {
        /* rtn: the driver quantizes the blocks with that imatrix, as write_tensor would,
         * and measures each tensor's error on the same windows for the report */
        struct calib_opts co = {0};
        co.method = imatrix ? CALIB_RTN
                    : strcmp(o->method, "gptq") == 0 ? CALIB_GPTQ
                    : strcmp(o->method, "awq") == 0 ? CALIB_AWQ : CALIB_AWQ_GPTQ;
        co.imatrix = imatrix ? &o->imatrix : NULL;
        co.gptq.damp = o->damp;
        co.gptq.flags = o->act_order ? GPTQ_ACT_ORDER : GPTQ_DEFAULT;
        co.awq_grid = 20;
        co.type_of = planned_type;
        co.type_ctx = (void *)plan;
        co.on_block = on_block;
        co.on_block_ctx = &prog;
        progress_begin(&prog, src->hp.n_layer, o->quiet);
        rc = calib_run(m, samples, o->samples, o->seq_len, &co, &o->calib);
        progress_end(&prog);
        o->have_calib = rc == 0;
    }
    free(samples);
    model_destroy(m);
    return rc;
}

/* The per-layer error table on stdout, and as JSON with --json. */
static int report_errors(const struct convert_opts *o)
{
    if (!o->have_calib)
        return 0;
    printf("\nper-layer output error ||WX - W'X|| / ||WX|| on the calibration inputs (%s):\n", o->method);
    printf("  %-28s %-8s %10s %8s %8s\n", "tensor", "type", "rel error", "alpha", "damp");
    json_t *arr = json_array();
    for (int64_t i = 0; i < o->calib.n_tensors; i++) {
        const struct calib_tensor *t = &o->calib.tensors[i];
        if (t->rel_error < 0)
            continue;
        printf("  %-28s %-8s %10.6f %8.2f %8.4f\n", t->name, ggml_type_name(t->type), t->rel_error, (double)t->awq_alpha,
               (double)t->damp_used);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:f, s:f}", "tensor", t->name, "type",
                                             ggml_type_name(t->type), "rel_error", t->rel_error, "awq_alpha",
                                             (double)t->awq_alpha, "damp", (double)t->damp_used));
    }
    int rc = 0;
    if (o->json_path) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "output", o->out_path, "method", o->method, "type",
                              o->ft->name, "samples", (json_int_t)o->samples, "seq_len", (json_int_t)o->seq_len,
                              "damp_raised", (json_int_t)o->calib.damp_raised, "layers", arr);
        if (json_dump_file(j, o->json_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
            rc = ig_error_set(IG_EIO, "%s: cannot write the report", o->json_path);
        json_decref(j);
    } else {
        json_decref(arr);
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
        (rc = gguf_writer_begin_data(w)) ||
        (rc = write_all(w, plan, im, o->have_calib ? &o->calib : NULL, ph_src, o->quiet, &bytes))) {
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
    cpu_set_threads((int)o.threads);
    if (o.calib_path && strcmp(o.method, "rtn") == 0)
        o.plan.flags |= PLAN_HAS_IMATRIX;
    rc = model_src_open(&src, o.src_path, o.tokenizer);
    if (!rc && o.imatrix_path)
        rc = imatrix_read(&o.imatrix, o.imatrix_path);
    if (!rc)
        rc = plan_make(&plan, src, o.ft, &o.plan);
    if (!rc)
        rc = plan_check_writable(&plan);
    if (!rc && o.calib_path)
        rc = calibrate(&o, src, &plan);
    if (!rc)
        rc = convert_run(&o, src, &plan);
    if (!rc)
        rc = report_errors(&o);
    plan_free(&plan);
    imatrix_free(&o.imatrix);
    calib_result_free(&o.calib);
    calib_corpus_free(&o.corpus);
    model_src_close(src);
    return rc ? cli_fail("convert", rc) : EXIT_OK;
}
