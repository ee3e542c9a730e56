/* cmd_convert.c — `ingot convert SRC -o OUT.gguf --type T`.
 *
 * Opens the source (formats/model_src), plans each tensor's type (plan.c), writes
 * llama.cpp's metadata and ingot's provenance keys, then streams one tensor at a time
 * from the source mapping through the type's reference quantizer into the GGUF writer.
 * Peak memory is one chunk of rows, not the model.
 */
#include "cli.h"
#include "export_hf.h"
#include "import_hf.h"
#include "plan.h"

#include "../common/ig_error.h"
#include "../common/ig_half.h"
#include "../formats/ggml_type.h"
#include "../formats/gemma_arch.h"
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
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CHUNK_ELEMS (1 << 22)   /* floats converted per step: 16 MiB of fp32 */

static const char convert_usage[] =
    "usage: ingot convert SRC -o OUT.gguf [--type F32|F16|BF16] [options]\n"
    "\n"
    "SRC is an HF folder (config.json, *.safetensors, tokenizer.model or tokenizer.json),\n"
    "a GGUF file (F32/F16/BF16), or a llama2.c .bin checkpoint. A GPTQ, AWQ or bitsandbytes\n"
    "folder is imported: without --type its linears keep their codes wherever a type holds\n"
    "them exactly (Q4_0/Q8_0, I4_G*/I8_G*, NF4_F16); the rest, and --type, round a second\n"
    "time, with a warning and the error per tensor.\n"
    "\n"
    "  -o, --output FILE     the GGUF file to write (replaced atomically)\n"
    "      --format F        gguf (default), or an HF folder at -o for transformers/vLLM/bitsandbytes:\n"
    "                        gptq (v1 zeros; --type I4_G*/I8_G*), gptq_v2, awq (GEMM; I4_G*), bnb (NF4)\n"
    "  -t, --type T          F32, F16 (default), BF16, or a llama.cpp mix: Q8_0, Q4_0, Q4_1,\n"
    "                        Q5_0, Q5_1, IQ4_NL, IQ4_XS, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S,\n"
    "                        Q4_K_M, Q5_K_S, Q5_K_M, Q6_K (per-tensor types as llama-quantize\n"
    "                        picks them)\n"
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
    "      --calib-imatrix F  rtn with --calib: the importance matrix of these windows, computed\n"
    "                        before by 'ingot imatrix --samples N --ctx L --seed S' (ingot batch\n"
    "                        computes it once per source); the file is byte-identical\n"
    "      --damp F          GPTQ damping, a fraction of the mean Hessian diagonal (default 0.01)\n"
    "      --act-order       GPTQ: columns by descending Hessian diagonal (static groups)\n"
    "      --allow-fallback  write the file even when no tensor can take the requested type\n"
    "                        (every row length is a non-multiple of its block; they fall back)\n"
    "      --allow-requantize  convert a source whose tensors are already quantized (the\n"
    "                        errors of both roundings add up)\n"
    "      --eval TEXT       GPTQ/AWQ/bitsandbytes folder: measure the written file's mean KLD\n"
    "                        against the folder on TEXT (as 'ingot verify OUT --source SRC')\n"
    "      --json            print the report (tensors, fallbacks, per-layer errors, times) as\n"
    "                        JSON on stdout; the summary goes to stderr\n"
    "      --json-out FILE   write the same JSON report to FILE\n"
    "      --threads N       CPU threads (default: all cores)\n"
    "      --tokenizer FILE  tokenizer for a llama2.c checkpoint (default: beside it)\n"
    "      --tie-embeddings  tied models: write token_embd.weight only, as llama.cpp's\n"
    "                        HF converter does (default: also write output.weight)\n"
    "  -q, --quiet           no progress output\n"
    "  -v, --verbose         one line per tensor with its time\n"
    "\n"
    "Exit codes: 0 written; 2 bad input or usage (nothing is written at OUT); 3 I/O.\n";

struct convert_opts {
    const char *src_path;
    const char *out_path;
    const char *tokenizer;
    const struct file_type *ft;
    struct plan_opts plan;
    const char *imatrix_path;
    struct imatrix imatrix;
    bool quiet, verbose, json_stdout, allow_fallback, allow_requantize;
    const char *method;          /* "rtn", "gptq", "awq", "awq+gptq" */
    const char *calib_path, *json_path;   /* json_path: --json-out FILE */
    const char *calib_imatrix;   /* --calib-imatrix FILE: rtn --calib's importance, computed before */
    int64_t samples, seq_len, threads;
    uint64_t seed;
    float damp;
    bool act_order;
    struct calib_corpus corpus;
    struct calib_result calib;   /* calibrated tensors, when a method ran */
    bool have_calib;
    double t_start, s_calib, s_write;   /* cli_now() at the start; seconds calibrating, writing */
    uint64_t bytes_written;             /* tensor data */
    FILE *human;                        /* the summary: stdout, or stderr under --json */
    bool type_given;                    /* --type: a third-party folder is re-quantized (import_hf.h) */
    const char *format;                 /* --format: NULL or "gguf", else an HF export (export_hf.h) */
    struct import_hf imp;               /* the third-party linears of a GPTQ/AWQ/bnb folder */
    const char *eval_path;              /* --eval TEXT: such a folder's KLD against the file */
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
    /* a copy, leaving argv as given: an HF export parses it again (export_hf.c) */
    static char patterns[PLAN_MAX_OVERRIDES][1024];
    if ((size_t)(eq - arg) >= sizeof patterns[0])
        return cli_usage_error("convert", "--tensor-type: a pattern longer than %zu bytes", sizeof patterns[0] - 1);
    memcpy(patterns[p->n_overrides], arg, (size_t)(eq - arg));
    patterns[p->n_overrides][eq - arg] = '\0';
    p->override_pattern[p->n_overrides] = patterns[p->n_overrides];
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
        {"act-order", no_argument, 0, 'A'},       {"json-out", required_argument, 0, 'J'},
        {"json", no_argument, 0, 'j'},            {"threads", required_argument, 0, 'N'},
        {"allow-fallback", no_argument, 0, 'F'},  {"allow-requantize", no_argument, 0, 'R'},
        {"verbose", no_argument, 0, 'v'},
        {"calib-imatrix", required_argument, 0, 'K'},
        {"format", required_argument, 0, 'X'},
        {"eval", required_argument, 0, 'Y'},
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
    while ((c = getopt_long(argc, argv, "o:t:m:qvh", longopts, NULL)) != -1) {
        const char *opt = cli_option_name(longopts, c);
        switch (c) {
        case 'm':
            if (strcmp(optarg, "rtn") && strcmp(optarg, "gptq") && strcmp(optarg, "awq") && strcmp(optarg, "awq+gptq"))
                return cli_usage_error("convert", "--method '%s': expected rtn, gptq, awq or awq+gptq", optarg);
            o->method = optarg;
            break;
        case 'C': o->calib_path = optarg; break;
        case 'K': o->calib_imatrix = optarg; break;
        case 'J': o->json_path = optarg; break;
        case 'j': o->json_stdout = true; break;
        case 'F': o->allow_fallback = true; break;
        case 'R': o->allow_requantize = true; break;
        case 'v': o->verbose = true; break;
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
        case 'X': o->format = optarg; break;
        case 'Y': o->eval_path = optarg; break;
        case 't':
            o->type_given = true;
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
    if (o->calib_imatrix && (!o->calib_path || strcmp(o->method, "rtn") != 0))
        return cli_usage_error("convert", "--calib-imatrix goes with --method rtn --calib TEXT");
    o->human = o->json_stdout ? stderr : stdout;
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
    int rc = gguf_writer_add_u32(w, "ingot.format_version", 2);   /* 2: ingot.header_xxh3 */
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

/* A quantized type's scales are computed from the row's values, so one NaN or Inf would
 * spoil its whole block (llama-quantize writes such a block without a word): refuse it.
 * A float output would carry it into every forward pass: refuse that too. */
static int check_finite_row(const float *x, int64_t n, bool quantized)
{
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(x[j]))
            return ig_error_set(IG_EINVAL, "element %lld is %s (only finite values can be %s)", (long long)j,
                                isnan(x[j]) ? "NaN" : x[j] > 0 ? "+Inf" : "-Inf", quantized ? "quantized" : "written");
    return 0;
}

static bool is_float_type(int type)
{
    return type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16;
}

/* A finite f32 beyond F16's range (|x| >= 65520 rounds to Inf) or BF16's (above about
 * 3.39e38) would become Inf in the output without a word: refuse it, naming the value.
 * out is the row as the type's quantizer wrote it. */
static int check_half_overflow(int type, const float *x, const uint8_t *out, int64_t n)
{
    if (type != GGML_TYPE_F16 && type != GGML_TYPE_BF16)
        return 0;
    const uint16_t exp_mask = type == GGML_TYPE_F16 ? 0x7c00u : 0x7f80u;
    for (int64_t j = 0; j < n; j++) {
        uint16_t h;
        memcpy(&h, out + 2 * j, 2);
        if ((h & exp_mask) == exp_mask)
            return ig_error_set(IG_EINVAL, "element %lld = %g overflows %s (largest finite: %s)", (long long)j,
                                (double)x[j], ggml_type_name(type), type == GGML_TYPE_F16 ? "65504" : "3.3895e38");
    }
    return 0;
}

/* A tensor copied as stored is never converted to f32 on the way: check its bits (an
 * all-ones exponent is Inf or NaN in F32, F16 and BF16 alike). */
static int check_finite_raw(const struct src_tensor *t)
{
    const int64_t n_cols = t->ne[0], n = n_cols * src_tensor_n_rows(t);
    const bool wide = t->type == GGML_TYPE_F32;
    const uint32_t exp_mask = wide ? 0x7f800000u : t->type == GGML_TYPE_F16 ? 0x7c00u : 0x7f80u;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = 0;
        uint16_t h = 0;
        if (wide) {
            memcpy(&u, t->data + 4 * i, 4);
        } else {
            memcpy(&h, t->data + 2 * i, 2);
            u = h;
        }
        if ((u & exp_mask) != exp_mask)
            continue;
        const float x = wide ? ig_bits_f32(u) : t->type == GGML_TYPE_F16 ? ig_fp16_to_fp32(h) : ig_bf16_to_fp32(h);
        return ig_error_set(IG_EINVAL, "tensor '%s': row %lld: element %lld is %s (only finite values can be written)",
                            t->name, (long long)(i / n_cols), (long long)(i % n_cols),
                            isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf");
    }
    return 0;
}

/* Quantize n rows of f32 (rows row0.. of the tensor) into packed, in parallel (rows are
 * independent, so the bytes do not depend on the thread count). A failure reports the
 * lowest failing row, whatever the thread count (struct ig_par_error). In a stack of experts
 * of mat_rows rows each, row r takes its expert's slice imatrix + (r / mat_rows)·n_cols. */
static int quantize_rows(const struct quant_type *qt, const float *f32, int64_t row0, int64_t n, int64_t n_cols,
                         const float *imatrix, int64_t mat_rows, uint8_t *packed)
{
    const size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    const bool quantized = !is_float_type(qt->id);
    struct ig_par_error pe;
    ig_par_error_init(&pe);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
        if (ig_par_error_skip(&pe, r))
            continue;
        int k = check_finite_row(f32 + r * n_cols, n_cols, quantized);
        if (!k)
            k = qt->quantize_row_ref(f32 + r * n_cols, packed + (size_t)r * row_bytes, n_cols,
                                     imatrix ? imatrix + (row0 + r) / mat_rows * n_cols : NULL);
        if (!k)
            k = check_half_overflow(qt->id, f32 + r * n_cols, packed + (size_t)r * row_bytes, n_cols);
        if (k) {
            ig_error_wrap(k, "row %lld", (long long)(row0 + r));
            ig_par_error_record(&pe, r, k);
        }
    }
    return ig_par_error_raise(&pe);
}

/* Stream one tensor: raw copy when nothing changes, else rows through the quantizer. */
static int write_tensor(struct gguf_writer *w, const struct plan_entry *e, const struct imatrix *im,
                        const struct calib_result *calib, struct import_hf *imp, float *f32, uint8_t *packed)
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
    struct import_tensor *it = import_hf_find(imp, t);
    if (it)   /* a GPTQ/AWQ/bnb linear: repacked where its type holds it, measured either way */
        return import_hf_write_tensor(it, w, imatrix_find(im, t->name, t->ne[0]));
    if (t->type == e->type && t->permute_n_head == 0 && t->norm_shift == 0.0f) {   /* gemma norms are shifted */
        int rc = is_float_type(t->type) ? check_finite_raw(t) : 0;
        for (uint64_t off = 0; off < t->size_bytes && !rc; off += (uint64_t)CHUNK_ELEMS) {
            uint64_t n = t->size_bytes - off < (uint64_t)CHUNK_ELEMS ? t->size_bytes - off : (uint64_t)CHUNK_ELEMS;
            rc = gguf_writer_write(w, t->data + off, (size_t)n);
        }
        return rc ? rc : gguf_writer_end_tensor(w);
    }
    const struct quant_type *qt = quant_type_get(e->type);
    int64_t n_cols = t->ne[0], n_rows = src_tensor_n_rows(t);
    int64_t rows_per_chunk = n_cols > 0 && n_cols < CHUNK_ELEMS ? CHUNK_ELEMS / n_cols : 1;
    size_t row_bytes = quant_row_size_bytes(qt, n_cols);
    /* llama-quantize uses an entry only when its length is the row length times the matrices
     * (a stack of experts, ne[2] of them: each expert's rows with its slice) */
    const int64_t n_mat = t->n_dims >= 3 && t->ne[2] > 1 ? t->ne[2] : 1;
    const float *imatrix = imatrix_find(im, t->name, n_cols * n_mat);
    for (int64_t r0 = 0; r0 < n_rows; r0 += rows_per_chunk) {
        int64_t nr = n_rows - r0 < rows_per_chunk ? n_rows - r0 : rows_per_chunk;
        int rc = tensor_read_rows_f32(t, r0, nr, f32);
        if (!rc)
            rc = quantize_rows(qt, f32, r0, nr, n_cols, imatrix, n_rows / n_mat, packed);
        if (!rc)
            rc = gguf_writer_write(w, packed, (size_t)nr * row_bytes);
        if (rc)
            return ig_error_wrap(rc, "tensor '%s'", t->name);
    }
    return gguf_writer_end_tensor(w);
}

/* -v: one line per tensor, "blk.0.attn_q.weight  F16 -> Q4_K  64 x 64  0.001s". */
static void print_tensor_line(const struct plan_entry *e, double seconds)
{
    char shape[64] = "";
    for (int d = 0; d < e->src->n_dims; d++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? " x " : "", (long long)e->src->ne[d]);
    fprintf(stderr, "  %-34s %-6s -> %-7s %-16s %.3fs%s%s\n", e->src->name, src_tensor_type_name(e->src),
            ggml_type_name(e->type), shape, seconds, e->fallback_from >= 0 ? "  fallback from " : "",
            e->fallback_from >= 0 ? ggml_type_name(e->fallback_from) : "");
}

static int write_all(struct gguf_writer *w, const struct plan *plan, const struct imatrix *im,
                     const struct calib_result *calib, struct import_hf *imp, int ph_src, bool quiet, bool verbose,
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
        double t0 = cli_now();
        rc = write_tensor(w, e, im, calib, imp, f32, packed);
        if (!rc && verbose)
            print_tensor_line(e, cli_now() - t0);
        if (!rc)
            rc = gguf_writer_set_u64_placeholder(w, ph_src, (uint64_t)i, src_tensor_xxh3(e->src));
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
    progress_step(p, label);
}

/* Within a block: the bar moves by the block's steps (windows and linears), so the ETA is
 * an estimate even before the first block ends. */
static void on_step(void *ctx, int64_t layer, int64_t done, int64_t total, const char *stage)
{
    struct progress *p = ctx;
    char label[160];
    /* counts first: a terminal's bar shows only the label's first 44 characters */
    snprintf(label, sizeof label, "block %lld/%lld step %lld/%lld: %s", (long long)layer + 1, (long long)p->total,
             (long long)done, (long long)total, stage);
    progress_show(p, (double)layer + (total > 0 ? (double)done / (double)total : 0.0), label);
}

/* Tokenize the corpus and draw the windows; fills o->corpus, o->seq_len. */
static int calib_windows(struct convert_opts *o, const struct model_src *src, int32_t **samples)
{
    int rc = calib_corpus_load(&o->corpus, o->calib_path, &src->vocab);
    if (rc)
        return rc;
    if (!o->seq_len)
        o->seq_len = src->hp.n_ctx_train > 0 && src->hp.n_ctx_train < 512 ? src->hp.n_ctx_train : 512;
    if (src->hp.n_ctx_train > 0 && o->seq_len > src->hp.n_ctx_train)   /* as verify's --ctx */
        fprintf(stderr,
                "ingot convert: warning: --seq-len %lld is above %s's training context of %lld tokens "
                "(context_length / max_position_embeddings): the statistics come from positions the model "
                "was never trained on\n",
                (long long)o->seq_len, src->path, (long long)src->hp.n_ctx_train);
    *samples = ig_malloc((size_t)(o->samples * o->seq_len) * sizeof **samples);
    if (!*samples)
        return IG_ENOMEM;
    int32_t bos = src->vocab.add_bos != 0 && src->vocab.bos_id >= 0 ? (int32_t)src->vocab.bos_id : -1;
    rc = calib_corpus_sample(&o->corpus, o->samples, o->seq_len, o->seed, bos, *samples);
    /* the corpus knows its tokens, not its file name */
    return rc == IG_EINVAL ? ig_error_wrap(rc, "--calib %s", o->calib_path) : rc;
}

/* --calib-imatrix FILE: the importance matrix `ingot imatrix --samples` computed over the
 * windows calib_windows drew (ingot batch shares one among a source's rtn jobs). It must
 * record those windows' count, length and text; the seed is the caller's to match. */
static int calib_imatrix_read(struct convert_opts *o)
{
    int rc = imatrix_read(&o->imatrix, o->calib_imatrix);
    if (rc)
        return rc;
    if (o->imatrix.chunk_count != o->samples || o->imatrix.chunk_size != o->seq_len ||
        strcmp(o->imatrix.dataset, o->calib_path) != 0)
        return ig_error_set(IG_EINVAL,
                            "--calib-imatrix %s: computed over %lld windows of %lld tokens of '%s'; this conversion "
                            "calibrates on %lld windows of %lld tokens of '%s'",
                            o->calib_imatrix, (long long)o->imatrix.chunk_count, (long long)o->imatrix.chunk_size,
                            o->imatrix.dataset, (long long)o->samples, (long long)o->seq_len, o->calib_path);
    return 0;
}

/* --method gptq/awq/awq+gptq: run the driver; --method rtn --calib: compute the imatrix. */
static int calibrate(struct convert_opts *o, const struct model_src *src, const struct plan *plan)
{
    struct model *m = NULL;
    int32_t *samples = NULL;
    int rc = cli_check_rope_scaling(src, "convert");
    if (!rc)
        rc = calib_windows(o, src, &samples);
    const bool imatrix = strcmp(o->method, "rtn") == 0;
    struct progress prog;
    if (!rc && imatrix) {
        /* statistics only: the weights stay packed and every window goes through the blocks
         * together (the driver below holds all their hidden states too) */
        struct imatrix_calc_opts io = {o->seq_len, o->samples, -1, o->samples, NULL, NULL};
        /* the windows already start with BOS: compute over them back to back */
        snprintf(o->imatrix.dataset, sizeof o->imatrix.dataset, "%s", o->calib_path);
        if (o->calib_imatrix)
            rc = calib_imatrix_read(o);
        else if (!(rc = model_create_packed(&m, src, tensor_rows_f32_checked, NULL))) {
            cli_set_rope_ctx(m, src, "convert", o->seq_len);   /* phi3 longrope, window warning */
            rc = imatrix_compute(&o->imatrix, m, samples, o->samples * o->seq_len, &io);
        }
        model_destroy(m);
        m = NULL;
        if (!rc)
            o->imatrix_path = o->calib_path;
    }
    /* the driver quantizes: one block's weights as fp32 at a time */
    if (!rc)
        rc = model_create_streamed(&m, src, tensor_fetch_f32, NULL);
    if (!rc)
        cli_set_rope_ctx(m, src, "convert", o->seq_len);   /* phi3 longrope, window warning */
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
        co.on_step = on_step;
        co.on_step_ctx = &prog;
        progress_begin(&prog, src->hp.n_layer, o->quiet);
        rc = calib_run(m, samples, o->samples, o->seq_len, &co, &o->calib);
        progress_end(&prog);
        o->have_calib = rc == 0;
    }
    free(samples);
    model_destroy(m);
    return rc;
}

/* The per-layer error table (calibrated runs) on the human stream. */
static void print_layer_errors(const struct convert_opts *o)
{
    fprintf(o->human, "\nper-layer output error ||WX - W'X|| / ||WX|| on the calibration inputs (%s):\n", o->method);
    fprintf(o->human, "  %-28s %-8s %10s %8s %8s\n", "tensor", "type", "rel error", "alpha", "damp");
    for (int64_t i = 0; i < o->calib.n_tensors; i++) {
        const struct calib_tensor *t = &o->calib.tensors[i];
        if (t->rel_error < 0)
            continue;
        char alpha[16] = "-", damp[16] = "-";
        if (t->awq_alpha >= 0)
            snprintf(alpha, sizeof alpha, "%.2f", (double)t->awq_alpha);
        if (t->damp_used > 0)
            snprintf(damp, sizeof damp, "%.4f", (double)t->damp_used);
        fprintf(o->human, "  %-28s %-8s %10.6f %8s %8s\n", t->name, ggml_type_name(t->type), t->rel_error, alpha, damp);
    }
}

/* [{tensor, type, rel_error, awq_alpha, damp}]: null where a figure does not apply. */
static json_t *layers_json(const struct convert_opts *o)
{
    if (!o->have_calib)
        return json_null();
    json_t *arr = json_array();
    for (int64_t i = 0; i < o->calib.n_tensors; i++) {
        const struct calib_tensor *t = &o->calib.tensors[i];
        if (t->rel_error < 0)
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o}", "tensor", t->name, "type",
                                             ggml_type_name(t->type), "rel_error", cli_json_number(t->rel_error),
                                             "awq_alpha", t->awq_alpha >= 0 ? json_real(t->awq_alpha) : json_null(),
                                             "damp", t->damp_used > 0 ? json_real(t->damp_used) : json_null()));
    }
    return arr;
}

/* Every tensor: its source and written type, and why it fell back (null if it did not). */
static json_t *tensors_json(const struct plan *plan)
{
    json_t *arr = json_array();
    for (int64_t i = 0; i < plan->n_entries; i++) {
        const struct plan_entry *e = &plan->entries[i];
        char why[128];
        json_t *fb = e->fallback_from < 0 ? json_null()
                                          : json_pack("{s:s, s:s}", "wanted", ggml_type_name(e->fallback_from),
                                                      "reason", plan_fallback_reason(e, why, sizeof why));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}", "name", e->src->name, "source_type",
                                             src_tensor_type_name(e->src), "type", ggml_type_name(e->type),
                                             "fallback", fb));
    }
    return arr;
}

static int max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The report of a finished conversion: --json on stdout, --json-out FILE. */
static int report_json(const struct convert_opts *o, const struct plan *plan, double bpw)
{
    if (!o->json_stdout && !o->json_path)
        return 0;
    json_t *calib = o->have_calib ? json_pack("{s:s, s:I, s:I, s:I}", "text", o->calib_path, "samples",
                                              (json_int_t)o->samples, "seq_len", (json_int_t)o->seq_len,
                                              "damp_raised", (json_int_t)o->calib.damp_raised)
                                  : json_null();
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:o, s:I, s:I, s:o, s:{s:o, s:f, s:f}, s:o}",
                          "output", o->out_path, "source", o->src_path, "type", plan->file_type->name, "method",
                          plan->file_type->quantized ? o->method : "none", "ingot_version", INGOT_VERSION,
                          "n_tensors", (json_int_t)plan->n_entries, "bytes", (json_int_t)o->bytes_written,
                          "fallbacks", (json_int_t)plan->n_fallback, "bits_per_weight", bpw, "calibration", calib,
                          "quantized_as_planned", (json_int_t)plan->n_quantized, "threads", (json_int_t)max_threads(),
                          "tensors", tensors_json(plan), "seconds", "calibration",
                          o->have_calib ? json_real(o->s_calib) : json_null(), "write", o->s_write, "total",
                          cli_now() - o->t_start, "layers", layers_json(o));
    json_object_set_new(j, "import", import_hf_json(&o->imp));
    return cli_json_emit(j, o->json_stdout, o->json_path);
}

/* Fallbacks are said, never silent: one warning line per tensor on stderr. */
static void warn_fallbacks(const struct convert_opts *o, const struct plan *plan)
{
    if (!plan->n_fallback)
        return;
    fprintf(stderr, "ingot convert: warning: %lld of %lld tensors could not take their planned type and fell back:\n",
            (long long)plan->n_fallback, (long long)plan->n_entries);
    for (int64_t i = 0; i < plan->n_entries; i++) {
        const struct plan_entry *e = &plan->entries[i];
        char why[128];
        if (e->fallback_from >= 0)
            fprintf(stderr, "  %s: %s -> %s (%s)\n", e->src->name, ggml_type_name(e->fallback_from), ggml_type_name(e->type),
                    plan_fallback_reason(e, why, sizeof why));
    }
}

/* Refuse a file in which no tensor has the requested type, unless --allow-fallback. */
static int check_fallbacks(const struct convert_opts *o, const struct plan *plan)
{
    if (!plan->file_type->quantized || plan->n_quantized > 0 || plan->n_fallback == 0 || o->allow_fallback)
        return 0;
    const struct plan_entry *e = NULL;
    for (int64_t i = 0; i < plan->n_entries && !e; i++)
        if (plan->entries[i].fallback_from >= 0)
            e = &plan->entries[i];
    char why[128];
    return ig_error_set(IG_EINVAL,
                        "%s: no tensor can take type %s: all %lld quantizable tensors would fall back (first: '%s' -> %s, "
                        "%s); pass --allow-fallback to write it anyway",
                        o->src_path, plan->file_type->name, (long long)plan->n_fallback, e->src->name,
                        ggml_type_name(e->type), plan_fallback_reason(e, why, sizeof why));
}

/* A quantized source re-quantized compounds two roundings: only with --allow-requantize
 * (as llama-quantize), and then with a warning. */
static int check_requantize(const struct convert_opts *o, const struct plan *plan)
{
    char types[256] = "";
    int64_t n = 0;
    int seen[8], n_seen = 0;
    for (int64_t i = 0; i < plan->n_entries; i++) {
        const struct src_tensor *t = plan->entries[i].src;
        /* third-party linears: import_hf decides and warns (a second rounding only where needed) */
        if (is_float_type(t->type) || t->type == plan->entries[i].type || t->read_rows_f32)
            continue;
        n++;
        bool known = false;
        for (int k = 0; k < n_seen; k++)
            known |= seen[k] == t->type;
        if (!known && n_seen < 8) {
            seen[n_seen++] = t->type;
            snprintf(types + strlen(types), sizeof types - strlen(types), "%s%s", strlen(types) ? ", " : "",
                     ggml_type_name(t->type));
        }
    }
    if (n == 0)
        return 0;
    if (!o->allow_requantize)
        return ig_error_set(IG_EINVAL,
                            "%s: %lld tensors are already quantized (%s); converting them again to %s compounds "
                            "the rounding errors: convert from the F16/F32 source, or pass --allow-requantize",
                            o->src_path, (long long)n, types, plan->file_type->name);
    fprintf(stderr,
            "ingot convert: warning: re-quantizing %lld tensors stored as %s: the errors of both roundings add up, "
            "so the file is worse than one quantized from the F16/F32 source\n",
            (long long)n, types);
    return 0;
}

/* ---- the command -------------------------------------------------------------------------------- */

static int convert_run(struct convert_opts *o, const struct model_src *src, struct plan *plan)
{
    struct gguf_writer *w = NULL;
    int ph_src = -1;
    int rc = gguf_writer_open(&w, o->out_path, GGUF_WRITER_CHECKSUMS);
    if (rc)
        return rc;
    cli_set_tmp_output(gguf_writer_tmp_path(w));
    const struct imatrix *im = o->imatrix_path ? &o->imatrix : NULL;
    if ((rc = write_keys(w, o, src, plan, &ph_src)) || (rc = add_tensor_infos(w, plan)) ||
        (rc = gguf_writer_begin_data(w)) ||
        (rc = write_all(w, plan, im, o->have_calib ? &o->calib : NULL, &o->imp, ph_src, o->quiet, o->verbose,
                        &o->bytes_written))) {
        gguf_writer_abort(w);
        cli_set_tmp_output(NULL);
        return rc;
    }
    rc = gguf_writer_finish(w);
    cli_set_tmp_output(NULL);
    return rc;
}

/* The closing summary (after the per-layer table of a calibrated run), then the JSON. */
static int convert_report(struct convert_opts *o, const struct plan *plan)
{
    char b[32];
    int64_t n_params = 0;
    for (int64_t i = 0; i < plan->n_entries; i++) {
        const struct src_tensor *t = plan->entries[i].src;
        n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    double bpw = n_params ? 8.0 * (double)o->bytes_written / (double)n_params : 0.0;
    if (o->have_calib)
        print_layer_errors(o);
    import_hf_print(&o->imp, o->human, o->out_path, o->src_path);
    fprintf(o->human, "wrote %s: %lld tensors, %s of tensor data, %.2f bits per weight, type %s", o->out_path,
            (long long)plan->n_entries, cli_bytes(o->bytes_written, b, sizeof b), bpw, plan->file_type->name);
    if (plan->n_fallback)
        fprintf(o->human, ", %lld tensors fell back (listed above)", (long long)plan->n_fallback);
    if (o->calib_path)
        fprintf(o->human, "; %.2fs in all (calibration %.2fs, writing %.2fs)\n", cli_now() - o->t_start, o->s_calib,
                o->s_write);
    else
        fprintf(o->human, "; %.2fs in all\n", cli_now() - o->t_start);
    return report_json(o, plan, bpw);
}

int cmd_convert(int argc, char **argv)
{
    struct convert_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (o.format && strcmp(o.format, "gguf") != 0)   /* an HF folder for serving stacks */
        return export_hf_main(&(struct export_hf_args){o.format, o.src_path, o.out_path, o.ft->name, o.method, o.quiet,
                                                       o.json_stdout}, argc, argv);
    struct model_src *src = NULL;
    struct plan plan = {0};
    o.t_start = cli_now();
    cpu_set_threads((int)o.threads);
    if (o.calib_path && strcmp(o.method, "rtn") == 0)
        o.plan.flags |= PLAN_HAS_IMATRIX;
    rc = cli_model_src_open(&src, o.src_path, o.tokenizer);
    if (!rc)   /* before any work: OUT must be writable and not one of the inputs */
        rc = model_src_check_out_path(src, o.out_path, (const char *[]){o.imatrix_path, o.calib_path, o.eval_path}, 3);
    if (!rc && o.eval_path)   /* --eval's text, before any work too */
        rc = import_hf_check_eval(o.eval_path);
    if (!rc && o.imatrix_path)
        rc = imatrix_read(&o.imatrix, o.imatrix_path);
    if (!rc && o.imatrix_path)
        rc = imatrix_check_model(&o.imatrix, src);
    for (int i = 0; !rc && i < o.imatrix.n_warnings; i++)
        fprintf(stderr, "ingot convert: warning: %s\n", o.imatrix.warnings[i]);
    for (const char *n = rc ? "" : hf_model_notes(src), *e; *n; n = e + 1) {   /* gemma notes */
        e = strchr(n, '\n');
        fprintf(stderr, "ingot convert: note: %.*s\n", (int)(e - n), n);
    }
    if (!rc)
        rc = plan_make(&plan, src, o.ft, &o.plan);
    if (!rc)   /* a GPTQ/AWQ/bnb folder: its linears' types and how they are written */
        rc = import_hf_plan(&o.imp, &plan, o.type_given);
    if (!rc && o.imp.n > 0 && !o.type_given)
        o.method = "import";
    if (!rc && o.eval_path && o.imp.n == 0)
        rc = ig_error_set(IG_EINVAL, "--eval: %s has no GPTQ/AWQ/bitsandbytes linears to measure (use ingot verify)",
                          o.src_path);
    if (!rc)
        rc = check_requantize(&o, &plan);
    if (!rc)
        rc = check_fallbacks(&o, &plan);
    if (!rc)
        rc = plan_check_writable(&plan);
    if (!rc)
        warn_fallbacks(&o, &plan);
    double t = cli_now();
    if (!rc && o.calib_path)
        rc = calibrate(&o, src, &plan);
    o.s_calib = cli_now() - t;
    t = cli_now();
    if (!rc)
        rc = convert_run(&o, src, &plan);
    o.s_write = cli_now() - t;
    if (!rc && o.eval_path)
        rc = import_hf_measure_kld(&o.imp, o.out_path, o.src_path, o.eval_path, o.json_stdout);
    if (!rc)
        rc = convert_report(&o, &plan);
    plan_free(&plan);
    import_hf_free(&o.imp);
    imatrix_free(&o.imatrix);
    calib_result_free(&o.calib);
    calib_corpus_free(&o.corpus);
    model_src_close(src);
    return rc ? cli_fail("convert", rc) : EXIT_OK;
}
