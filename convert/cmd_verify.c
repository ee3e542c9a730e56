/* cmd_verify.c — `ingot verify FILE... --source SRC --eval TEXT`.
 *
 * Loads the source (HF folder, llama2.c checkpoint or GGUF) and every container (any GGUF,
 * ingot's or llama.cpp's), tokenizes the held-out text with the source's tokenizer, and
 * scores them on the same windows (verify/): perplexity of each, and each container's KL
 * divergence, top-token agreement and Δp against the source. Prints a table and, with
 * --json, writes the same figures to a file.
 */
#include "cli.h"

#include "../common/ig_error.h"
#include "../kernels/backend.h"
#include "../model/llama.h"
#include "../verify/verify.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_CONTAINERS 32

static const char verify_usage[] =
    "usage: ingot verify FILE... --source SRC --eval TEXT [--ctx N] [--chunks N] [--json OUT] [--threads N]\n"
    "\n"
    "Scores each GGUF FILE against the source model on held-out text, as llama-perplexity does:\n"
    "windows of --ctx tokens (default min(512, the model's context)), BOS first, the second half\n"
    "of each window scored. Reports perplexity with its error, and per container the KL divergence\n"
    "from the source (mean ± error, median, 99th percentile, max), top-token agreement, RMS of the\n"
    "change in the correct token's probability, and PPL(container)/PPL(source).\n"
    "  --source SRC   the unquantized model: HF folder, llama2.c checkpoint or GGUF\n"
    "  --eval TEXT    a UTF-8 text file (e.g. wiki.test.raw)\n"
    "  --chunks N     score at most N windows (default: all)\n"
    "  --json OUT     also write the figures as JSON to OUT\n"
    "  --threads N    CPU threads (default: all cores)\n"
    "  -q, --quiet    no progress output\n";

struct verify_cli {
    const char *files[MAX_CONTAINERS];
    int n_files;
    const char *source, *eval, *json_out;
    int64_t n_ctx, max_chunks, threads;
    bool quiet;
};

struct loaded_model {
    struct model_src *src;
    struct model *model;
    uint64_t file_bytes, tensor_bytes;
    int64_t n_weights;
};

/* ---- arguments ------------------------------------------------------------------------------- */

static int parse_verify(int argc, char **argv, struct verify_cli *o)
{
    static const struct option longopts[] = {
        {"source", required_argument, 0, 's'}, {"eval", required_argument, 0, 'e'},
        {"ctx", required_argument, 0, 'c'},    {"chunks", required_argument, 0, 'n'},
        {"json", required_argument, 0, 'j'},   {"threads", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        const char *opt = argv[optind - 1];
        switch (c) {
        case 's': o->source = optarg; break;
        case 'e': o->eval = optarg; break;
        case 'j': o->json_out = optarg; break;
        case 'c': if (!cli_parse_int("verify", opt, optarg, 4, 1 << 20, &o->n_ctx)) return EXIT_BAD_INPUT; break;
        case 'n': if (!cli_parse_int("verify", opt, optarg, 1, INT32_MAX, &o->max_chunks)) return EXIT_BAD_INPUT; break;
        case 't': if (!cli_parse_int("verify", opt, optarg, 1, 4096, &o->threads)) return EXIT_BAD_INPUT; break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(verify_usage, stdout); exit(EXIT_OK);
        default: return cli_usage_error("verify", "unknown or incomplete option '%s'", opt);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->n_files == MAX_CONTAINERS)
            return cli_usage_error("verify", "more than %d files", MAX_CONTAINERS);
        o->files[o->n_files++] = argv[i];
    }
    if (!o->source || !o->eval)
        return cli_usage_error("verify", "--source SRC and --eval TEXT are required");
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------------ */

static int load_model(struct loaded_model *lm, const char *path)
{
    memset(lm, 0, sizeof *lm);
    int rc = model_src_open(&lm->src, path, NULL);
    if (!rc)
        rc = model_create(&lm->model, lm->src, verify_fetch_f32, NULL);
    if (rc)
        return rc;
    struct stat st;
    lm->file_bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    for (int64_t i = 0; i < lm->src->n_tensors; i++) {
        const struct src_tensor *t = &lm->src->tensors[i];
        lm->tensor_bytes += t->size_bytes;
        lm->n_weights += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    return 0;
}

static void unload_model(struct loaded_model *lm)
{
    model_destroy(lm->model);
    model_src_close(lm->src);
}

/* ---- reporting ------------------------------------------------------------------------------------ */

static double bits_per_weight(const struct loaded_model *lm)
{
    return lm->n_weights ? 8.0 * (double)lm->tensor_bytes / (double)lm->n_weights : 0.0;
}

static void print_table(const struct verify_cli *o, const struct ppl_stats *ss, const struct loaded_model *cm,
                        const struct kld_summary *sum, int64_t n_ctx, int64_t n_chunks)
{
    double ppl, err;
    char b[32];
    ppl_stats_result(ss, &ppl, &err);
    printf("source %s: PPL %.4f ± %.5f over %lld tokens (%lld windows of %lld, second halves scored) of %s\n",
           o->source, ppl, err, (long long)ss->n, (long long)n_chunks, (long long)n_ctx, o->eval);
    if (o->n_files == 0)
        return;
    printf("\n%-28s %10s %6s %20s %16s %20s %9s %9s %9s %9s %8s\n", "container", "size", "bpw", "PPL", "PPL ratio",
           "KLD mean", "median", "p99", "max", "same top", "Δp RMS");
    for (int i = 0; i < o->n_files; i++) {
        const struct kld_summary *s = &sum[i];
        const char *name = strrchr(o->files[i], '/') ? strrchr(o->files[i], '/') + 1 : o->files[i];
        printf("%-28.28s %10s %6.3f %11.4f ± %6.4f %8.5f ± %5.5f %10.6f ± %7.6f %9.6f %9.5f %9.5f %8.3f%% %7.3f%%\n",
               name, cli_bytes(cm[i].file_bytes, b, sizeof b), bits_per_weight(&cm[i]), s->ppl, s->ppl_stderr,
               s->ppl_ratio, s->ppl_ratio_stderr, s->kld_mean, s->kld_mean_stderr, s->kld_median, s->kld_p99,
               s->kld_max, s->same_top_pct, 100.0 * s->dp_rms);
    }
}

static int write_json(const struct verify_cli *o, const struct ppl_stats *ss, const struct loaded_model *cm,
                      const struct kld_summary *sum, int64_t n_ctx, int64_t n_chunks)
{
    double ppl, err;
    ppl_stats_result(ss, &ppl, &err);
    json_t *containers = json_array();
    for (int i = 0; i < o->n_files; i++) {
        const struct kld_summary *s = &sum[i];
        json_array_append_new(
            containers,
            json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:f}", "file",
                      o->files[i], "ppl", s->ppl, "ppl_stderr", s->ppl_stderr, "ppl_ratio", s->ppl_ratio,
                      "ppl_ratio_stderr", s->ppl_ratio_stderr, "kld_mean", s->kld_mean, "kld_mean_stderr",
                      s->kld_mean_stderr, "kld_median", s->kld_median, "kld_p99", s->kld_p99, "kld_max", s->kld_max,
                      "same_top_pct", s->same_top_pct, "same_top_stderr_pct", s->same_top_stderr_pct, "dp_rms",
                      s->dp_rms, "bytes", (json_int_t)cm[i].file_bytes, "bits_per_weight", bits_per_weight(&cm[i])));
    }
    json_t *j = json_pack("{s:{s:s, s:f, s:f, s:I}, s:{s:s, s:I, s:I}, s:o}", "source", "path", o->source, "ppl", ppl,
                          "ppl_stderr", err, "tokens", (json_int_t)ss->n, "eval", "path", o->eval, "ctx",
                          (json_int_t)n_ctx, "chunks", (json_int_t)n_chunks, "containers", containers);
    int rc = json_dump_file(j, o->json_out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0
                 ? 0
                 : ig_error_set(IG_EIO, "%s: cannot write the JSON report", o->json_out);
    json_decref(j);
    return rc;
}

/* ---- the command --------------------------------------------------------------------------------- */

static int run_verify(const struct verify_cli *o, struct loaded_model *src, struct loaded_model *cm,
                      struct verify_target *targets)
{
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    int rc = cli_tokenize_file(&src->src->vocab, o->eval, &ids, &n_ids);
    if (rc)
        return ig_error_wrap(rc, "%s", o->eval);
    const struct model_hparams *hp = model_hparams(src->model);
    const struct vocab *v = &src->src->vocab;
    struct progress prog;
    struct verify_opts vo = {0};
    vo.n_ctx = o->n_ctx ? o->n_ctx : (hp->n_ctx_train > 0 && hp->n_ctx_train < 512 ? hp->n_ctx_train : 512);
    vo.max_chunks = o->max_chunks;
    vo.bos = v->add_bos != 0 && v->bos_id >= 0 ? (int32_t)v->bos_id : -1;
    vo.on_chunk = progress_window;
    vo.on_chunk_ctx = &prog;
    int64_t n_chunks = verify_n_chunks(n_ids, &vo), capacity = n_chunks * verify_scored_per_chunk(vo.n_ctx);
    for (int i = 0; i < o->n_files && !rc; i++)
        rc = kld_stats_init(&targets[i].stats, capacity);
    struct ppl_stats ss;
    struct kld_summary sum[MAX_CONTAINERS];
    progress_begin(&prog, n_chunks, o->quiet);
    if (!rc)
        rc = verify_perplexity(src->model, &ss, targets, o->n_files, ids, n_ids, &vo);
    progress_end(&prog);
    for (int i = 0; i < o->n_files && !rc; i++)
        kld_stats_summarize(&targets[i].stats, &sum[i]);
    if (!rc)
        print_table(o, &ss, cm, sum, vo.n_ctx, n_chunks);
    if (!rc && o->json_out)
        rc = write_json(o, &ss, cm, sum, vo.n_ctx, n_chunks);
    free(ids);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_cli o;
    int rc = parse_verify(argc, argv, &o);
    if (rc)
        return rc;
    cpu_set_threads((int)o.threads);
    struct loaded_model src = {0}, cm[MAX_CONTAINERS];
    struct verify_target targets[MAX_CONTAINERS];
    memset(cm, 0, sizeof cm);
    memset(targets, 0, sizeof targets);
    rc = load_model(&src, o.source);
    for (int i = 0; i < o.n_files && !rc; i++) {
        rc = load_model(&cm[i], o.files[i]);
        targets[i].model = cm[i].model;
    }
    if (!rc)
        rc = run_verify(&o, &src, cm, targets);
    for (int i = 0; i < o.n_files; i++) {
        kld_stats_free(&targets[i].stats);
        unload_model(&cm[i]);
    }
    unload_model(&src);
    return rc ? cli_fail("verify", rc) : EXIT_OK;
}
