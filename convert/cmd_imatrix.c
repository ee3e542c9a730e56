/* cmd_imatrix.c — `ingot imatrix SRC --calib TEXT -o FILE`: llama.cpp's importance matrix.
 *
 * Runs the source model over the calibration text with the verifier's forward pass and
 * writes, for every block weight, the mean squared activation of each input column
 * (calib/imatrix_calc.c), in llama.cpp's GGUF imatrix format or its legacy .dat format.
 * `ingot convert --imatrix FILE` and `llama-quantize --imatrix FILE` both read the result.
 */
#include "cli.h"

#include "../calib/imatrix_calc.h"
#include "../common/ig_error.h"
#include "../formats/imatrix.h"
#include "../kernels/backend.h"
#include "../model/llama.h"
#include "../verify/verify.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char imatrix_usage[] =
    "usage: ingot imatrix SRC --calib TEXT -o FILE [--ctx N] [--chunks N] [--format gguf|dat] [--threads N]\n"
    "                     [--json] [--json-out FILE] [-q] [-v]\n"
    "\n"
    "Computes llama.cpp's importance matrix (mean squared activation per input column of every\n"
    "block weight) over TEXT, in windows of --ctx tokens (default min(512, the model's context))\n"
    "with BOS first, as llama-imatrix does. --format dat writes the legacy .dat layout; the\n"
    "default is GGUF (also chosen by a .dat file name).\n"
    "  --json         print a summary (entries, windows, time) as JSON on stdout\n"
    "  --json-out F   write the same JSON to F\n"
    "\n"
    "Exit codes: 0 written; 2 bad input or usage; 3 I/O.\n";

struct imatrix_cli {
    const char *src, *calib, *out, *json_out;
    int64_t n_ctx, max_chunks, threads;
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
        case 'f':
            if (strcmp(optarg, "gguf") && strcmp(optarg, "dat"))
                return cli_usage_error("imatrix", "--format '%s': expected gguf or dat", optarg);
            o->dat = strcmp(optarg, "dat") == 0;
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
    size_t n = strlen(o->out);
    if (n > 4 && strcasecmp(o->out + n - 4, ".dat") == 0)
        o->dat = true;
    return 0;
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
    int64_t n_ids = 0;
    double t0 = cli_now();
    rc = cli_model_src_open(&src, o.src, NULL);
    if (!rc)   /* before any work: OUT must be writable and not one of the inputs */
        rc = model_src_check_out_path(src, o.out, (const char *[]){o.calib}, 1);
    if (!rc)
        rc = cli_check_rope_scaling(src, "imatrix");
    if (!rc)
        rc = model_create(&m, src, tensor_fetch_f32, NULL);
    if (!rc)
        rc = cli_tokenize_file(&src->vocab, o.calib, &ids, &n_ids);
    if (!rc) {
        const struct model_hparams *hp = model_hparams(m);
        struct progress prog;
        struct imatrix_calc_opts co = {0};
        co.n_ctx = o.n_ctx ? o.n_ctx : (hp->n_ctx_train > 0 && hp->n_ctx_train < 512 ? hp->n_ctx_train : 512);
        co.max_chunks = o.max_chunks;
        co.bos = src->vocab.add_bos != 0 && src->vocab.bos_id >= 0 ? (int32_t)src->vocab.bos_id : -1;
        co.on_chunk = progress_window;
        co.on_chunk_ctx = &prog;
        if (n_ids / co.n_ctx < 1)
            rc = ig_error_set(IG_EINVAL, "--calib %s: the text has %lld tokens, fewer than one window of %lld "
                              "(a longer text, or a smaller --ctx)", o.calib, (long long)n_ids, (long long)co.n_ctx);
        progress_begin(&prog, n_ids / co.n_ctx, o.quiet);
        snprintf(im.dataset, sizeof im.dataset, "%s", o.calib);
        if (!rc)
            rc = imatrix_compute(&im, m, ids, n_ids, &co);
        double s = progress_end(&prog);
        if (!rc && o.verbose)
            fprintf(stderr, "ingot imatrix: %lld windows in %.2fs\n", (long long)im.chunk_count, s);
    }
    if (!rc)
        rc = o.dat ? imatrix_write_dat(&im, o.out) : imatrix_write_gguf(&im, o.out);
    if (!rc)
        fprintf(o.json_stdout ? stderr : stdout, "wrote %s: %lld entries over %lld windows of %lld tokens of %s (%s format); %.2fs\n",
                o.out, (long long)im.n_entries, (long long)im.chunk_count, (long long)im.chunk_size, o.calib,
                o.dat ? "legacy .dat" : "GGUF", cli_now() - t0);
    if (!rc && (o.json_stdout || o.json_out))
        rc = cli_json_emit(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f}", "output", o.out, "source", o.src, "calib",
                                     o.calib, "format", o.dat ? "dat" : "gguf", "entries", (json_int_t)im.n_entries,
                                     "windows", (json_int_t)im.chunk_count, "window_tokens", (json_int_t)im.chunk_size,
                                     "seconds", cli_now() - t0),
                           o.json_stdout, o.json_out);
    imatrix_free(&im);
    free(ids);
    model_destroy(m);
    model_src_close(src);
    return rc ? cli_fail("imatrix", rc) : EXIT_OK;
}
