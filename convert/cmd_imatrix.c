/* cmd_imatrix.c — `ingot imatrix SRC --calib TEXT -o FILE`: llama.cpp's importance matrix.
 *
 * Runs the source model over the calibration text with the verifier's forward pass and
 * writes, for every block weight, the mean squared activation of each input column
 * (calib/imatrix_calc.c; mixtral's expert stacks: per expert, over the rows routed to it), in
 * llama.cpp's GGUF imatrix format or its legacy .dat format.
 * `ingot convert --imatrix FILE` and `llama-quantize --imatrix FILE` both read the result.
 */
#include "cli.h"

#include "../calib/calib.h"
#include "../calib/imatrix_calc.h"
#include "../common/ig_error.h"
#include "../formats/imatrix.h"
#include "../kernels/backend.h"
#include "../model/llama.h"
#include "../verify/verify.h"

#include <getopt.h>
#include <jansson.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

static const char imatrix_usage[] =
    "usage: ingot imatrix SRC --calib TEXT -o FILE [--ctx N] [--chunks N] [--samples N [--seed S]]\n"
    "                     [--format gguf|dat] [--threads N]\n"
    "                     [--mem-budget SIZE] [--json] [--json-out FILE] [-q] [-v]\n"
    "\n"
    "Computes llama.cpp's importance matrix (mean squared activation per input column of every\n"
    "block weight; each expert of a mixtral stack over the rows routed to it, with its own count)\n"
    "over TEXT, in windows of --ctx tokens (default min(512, the model's context))\n"
    "with BOS first, as llama-imatrix does. --format dat writes the legacy .dat layout; the\n"
    "default is GGUF (also chosen by a .dat file name).\n"
    "  --samples N    instead, N windows of --ctx tokens at seeded offsets (--seed, default 0),\n"
    "                 drawn as 'ingot convert --method rtn --calib' draws them: the result is the\n"
    "                 importance matrix that conversion computes ('convert --calib-imatrix' takes\n"
    "                 it; 'ingot batch' computes it once for all of a source's types)\n"
    "The weights stay packed (a tile of rows dequantized at a time) and the windows advance block\n"
    "by block, one block's bytes in memory at a time.\n"
    "  --mem-budget SIZE  memory for the windows in flight and one block (e.g. 2G, 512M; default\n"
    "                 half of MemAvailable): how many windows go through the blocks together\n"
    "  --json         print a summary (entries, windows, time, peak RSS) as JSON on stdout\n"
    "  --json-out F   write the same JSON to F\n"
    "\n"
    "Exit codes: 0 written; 2 bad input or usage; 3 I/O.\n";

struct imatrix_cli {
    const char *src, *calib, *out, *json_out;
    int64_t n_ctx, max_chunks, threads;
    int64_t samples, seed;   /* --samples: seeded windows as convert --calib draws them (0: off) */
    uint64_t mem_budget;     /* bytes; 0: verify_mem_budget_default() */
    bool dat, quiet, verbose, json_stdout;
};

static int parse_imatrix(int argc, char **argv, struct imatrix_cli *o)
{
    static const struct option longopts[] = {
        {"calib", required_argument, 0, 'c'}, {"output", required_argument, 0, 'o'},
        {"ctx", required_argument, 0, 'x'},   {"chunks", required_argument, 0, 'n'},
        {"format", required_argument, 0, 'f'}, {"threads", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
        {"json", no_argument, 0, 'J'},        {"json-out", required_argument, 0, 'j'},
        {"verbose", no_argument, 0, 'v'},
        {"samples", required_argument, 0, 'S'}, {"seed", required_argument, 0, 'D'},
        {"mem-budget", required_argument, 0, 'G'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
        const char *opt = cli_option_name(longopts, c);
        switch (c) {
        case 'c': o->calib = optarg; break;
        case 'o': o->out = optarg; break;
        case 'x': if (!cli_parse_int("imatrix", opt, optarg, 4, 1 << 20, &o->n_ctx)) return EXIT_BAD_INPUT; break;
        case 'n': if (!cli_parse_int("imatrix", opt, optarg, 1, INT32_MAX, &o->max_chunks)) return EXIT_BAD_INPUT; break;
        case 't': if (!cli_parse_int("imatrix", opt, optarg, 1, 4096, &o->threads)) return EXIT_BAD_INPUT; break;
        case 'S': if (!cli_parse_int("imatrix", opt, optarg, 1, 1 << 20, &o->samples)) return EXIT_BAD_INPUT; break;
        case 'D': if (!cli_parse_int("imatrix", opt, optarg, 0, INT64_MAX, &o->seed)) return EXIT_BAD_INPUT; break;
        case 'f':
            if (strcmp(optarg, "gguf") && strcmp(optarg, "dat"))
                return cli_usage_error("imatrix", "--format '%s': expected gguf or dat", optarg);
            o->dat = strcmp(optarg, "dat") == 0;
            break;
        case 'G':
            if (verify_mem_budget_parse(optarg, &o->mem_budget))
                return cli_usage_error("imatrix", "%s", ig_error_message());
            break;
        case 'q': o->quiet = true; break;
        case 'v': o->verbose = true; break;
        case 'J': o->json_stdout = true; break;
        case 'j': o->json_out = optarg; break;
        case 'h': fputs(imatrix_usage, stdout); exit(EXIT_OK);
        default: return cli_usage_error("imatrix", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1 || !o->calib || !o->out)
        return cli_usage_error("imatrix", "expected SRC, --calib TEXT and -o FILE");
    o->src = argv[optind];
    if (o->samples && o->max_chunks)
        return cli_usage_error("imatrix", "--samples draws its windows; --chunks cuts consecutive ones: pass one");
    size_t n = strlen(o->out);
    if (n > 4 && strcasecmp(o->out + n - 4, ".dat") == 0)
        o->dat = true;
    return 0;
}

/* Window length: --ctx, else min(512, the model's context), as convert's --seq-len. */
static int64_t window_tokens(const struct imatrix_cli *o, const struct model_src *src)
{
    if (o->n_ctx)
        return o->n_ctx;
    return src->hp.n_ctx_train > 0 && src->hp.n_ctx_train < 512 ? src->hp.n_ctx_train : 512;
}

/* --samples N: the windows `ingot convert --method rtn --calib` computes its importance
 * matrix over (calib_corpus_sample: seeded offsets, BOS first), back to back in *ids, so
 * this command's file holds the same bytes of statistics that conversion would compute. */
static int sampled_windows(const struct imatrix_cli *o, const struct model_src *src, int32_t **ids, int64_t *n_ids)
{
    struct calib_corpus corpus = {0};
    const int64_t n_ctx = window_tokens(o, src);
    int rc = calib_corpus_load(&corpus, o->calib, &src->vocab);
    if (!rc && !(*ids = ig_malloc((size_t)(o->samples * n_ctx) * sizeof **ids)))
        rc = IG_ENOMEM;
    int32_t bos = src->vocab.add_bos != 0 && src->vocab.bos_id >= 0 ? (int32_t)src->vocab.bos_id : -1;
    if (!rc)
        rc = calib_corpus_sample(&corpus, o->samples, n_ctx, (uint64_t)o->seed, bos, *ids);
    *n_ids = o->samples * n_ctx;
    calib_corpus_free(&corpus);
    return rc == IG_EINVAL ? ig_error_wrap(rc, "--calib %s", o->calib) : rc;
}

/* Windows per pass through the blocks: what the budget holds after the largest block and the
 * tiles, at the hidden state and the block's scratch per window. */
static int64_t window_batch(const struct model *m, int64_t n_ctx, uint64_t budget)
{
    const struct model_hparams *hp = model_hparams(m);
    const uint64_t d = (uint64_t)hp->n_embd, ff = (uint64_t)hp->n_ff;
    const uint64_t q = (uint64_t)(hp->n_head * hp->head_dim), kv = (uint64_t)(hp->n_head_kv * hp->head_dim);
    uint64_t block = 0;
    for (int64_t l = 0; l < hp->n_layer; l++)
        block = model_block_size_bytes(m, l) > block ? model_block_size_bytes(m, l) : block;
    const uint64_t fixed = block + (uint64_t)omp_get_max_threads() * 64 * (ff > d ? ff : d) * sizeof(float);
    const uint64_t per_window = (uint64_t)n_ctx * (3 * d + 2 * q + 2 * kv + 2 * ff) * sizeof(float);
    uint64_t b = budget > fixed ? (budget - fixed) / per_window : 0;
    return b < 1 ? 1 : (int64_t)b;
}

/* mixtral: a stack with experts the router never chose on this text. Say what the file does
 * with them, as llama-imatrix says it ("partial data"): the GGUF keeps count 0 (llama-quantize
 * then weighs those experts' columns by 1), the .dat stores 1 · ncall for them. */
static void warn_idle_experts(const struct imatrix *im, bool dat)
{
    for (int64_t i = 0; i < im->n_entries; i++) {
        const struct imatrix_entry *e = &im->entries[i];
        int64_t idle = 0;
        for (int64_t k = 0; k < e->n_mat; k++)
            idle += e->counts[k] == 0;
        if (idle)
            fprintf(stderr, "ingot imatrix: warning: '%s': %lld of %lld experts saw no rows of the calibration text; "
                    "%s\n", e->name, (long long)idle, (long long)e->n_mat,
                    idle == e->n_mat && dat ? "the entry is left out of the .dat (as llama-imatrix leaves it)"
                    : dat ? "their values are stored as 1 (llama-imatrix's legacy writer)"
                          : "they are kept with count 0; llama-quantize and ingot weigh their columns by 1");
    }
}

int cmd_imatrix(int argc, char **argv)
{
    struct imatrix_cli o;
    int rc = parse_imatrix(argc, argv, &o);
    if (rc)
        return rc;
    cpu_set_threads((int)o.threads);
    struct model_src *src = NULL;
    struct model *m = NULL;
    struct imatrix im = {0};
    int32_t *ids = NULL;
    int64_t n_ids = 0, window_batch_used = 0;
    double t0 = cli_now();
    rc = cli_model_src_open(&src, o.src, NULL);
    if (!rc)   /* before any work: OUT must be writable and not one of the inputs */
        rc = model_src_check_out_path(src, o.out, (const char *[]){o.calib}, 1);
    if (!rc)
        rc = cli_check_rope_scaling(src, "imatrix");
    if (!rc)
        rc = model_create_packed(&m, src, tensor_rows_f32_checked, NULL);
    if (!rc)
        rc = o.samples ? sampled_windows(&o, src, &ids, &n_ids) : cli_tokenize_file(&src->vocab, o.calib, &ids, &n_ids);
    if (!rc) {
        struct progress prog;
        struct imatrix_calc_opts co = {0};
        co.n_ctx = window_tokens(&o, src);
        cli_set_rope_ctx(m, src, "imatrix", co.n_ctx);   /* phi3 longrope, window warning */
        co.max_chunks = o.max_chunks;
        co.bos = src->vocab.add_bos != 0 && src->vocab.bos_id >= 0 ? (int32_t)src->vocab.bos_id : -1;
        if (o.samples)   /* the drawn windows start with BOS already */
            co.bos = -1;
        co.window_batch = window_batch(m, co.n_ctx, o.mem_budget ? o.mem_budget : verify_mem_budget_default());
        co.on_chunk = progress_window;
        co.on_chunk_ctx = &prog;
        if (n_ids / co.n_ctx < 1)
            rc = ig_error_set(IG_EINVAL, "--calib %s: the text has %lld tokens, fewer than one window of %lld "
                              "(a longer text, or a smaller --ctx)", o.calib, (long long)n_ids, (long long)co.n_ctx);
        progress_begin(&prog, n_ids / co.n_ctx, o.quiet);
        snprintf(im.dataset, sizeof im.dataset, "%s", o.calib);
        if (!rc)
            rc = imatrix_compute(&im, m, ids, n_ids, &co);
        int64_t n_win = co.max_chunks > 0 && co.max_chunks < n_ids / co.n_ctx ? co.max_chunks : n_ids / co.n_ctx;
        window_batch_used = co.window_batch < n_win ? co.window_batch : n_win;
        double s = progress_end(&prog);
        if (!rc && o.verbose)
            fprintf(stderr, "ingot imatrix: %lld windows in %.2fs\n", (long long)im.chunk_count, s);
    }
    if (!rc)
        warn_idle_experts(&im, o.dat);
    if (!rc)
        rc = o.dat ? imatrix_write_dat(&im, o.out) : imatrix_write_gguf(&im, o.out);
    if (!rc)
        fprintf(o.json_stdout ? stderr : stdout, "wrote %s: %lld entries over %lld windows of %lld tokens of %s (%s format); %.2fs\n",
                o.out, (long long)im.n_entries, (long long)im.chunk_count, (long long)im.chunk_size, o.calib,
                o.dat ? "legacy .dat" : "GGUF", cli_now() - t0);
    struct rusage ru;
    const uint64_t peak = getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
    if (!rc && o.verbose) {
        char b[32];
        fprintf(stderr, "ingot imatrix: peak RSS %s, %lld windows per batch\n", cli_bytes(peak, b, sizeof b),
                (long long)window_batch_used);
    }
    if (!rc && (o.json_stdout || o.json_out))
        rc = cli_json_emit(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I}", "output", o.out, "source",
                                     o.src, "calib", o.calib, "format", o.dat ? "dat" : "gguf", "entries",
                                     (json_int_t)im.n_entries, "windows", (json_int_t)im.chunk_count, "window_tokens",
                                     (json_int_t)im.chunk_size, "seconds", cli_now() - t0, "peak_rss_bytes",
                                     (json_int_t)peak, "window_batch", (json_int_t)window_batch_used),
                           o.json_stdout, o.json_out);
    imatrix_free(&im);
    free(ids);
    model_destroy(m);
    model_src_close(src);
    return rc ? cli_fail("imatrix", rc) : EXIT_OK;
}
