/* cmd_verify.c — `ingot verify FILE... --source SRC --eval TEXT`.
 *
 * Loads the source (HF folder, llama2.c checkpoint or GGUF) and every container (any GGUF,
 * ingot's or llama.cpp's), tokenizes the held-out text with the source's tokenizer, and
 * scores them on the same windows (verify/): perplexity of each, and each container's KL
 * divergence, top-token agreement and Δp against the source. Prints a table and, with
 * --json (stdout) or --json-out FILE, the same figures as JSON. With --tasks, also task
 * accuracy against the source item by item (verify_tasks.c); --eval is then optional.
 */
#include "cli.h"

#include "../common/ig_error.h"
#include "../kernels/backend.h"
#include "../model/llama.h"
#include "../verify/verify.h"
#include "verify_tasks.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define MAX_CONTAINERS 32

static const char verify_usage[] =
    "usage: ingot verify FILE... --source SRC [--eval TEXT] [--tasks TASK]... [--ctx N] [--chunks N] [--json]\n"
    "                    [--json-out FILE] [--task-limit N] [--bootstrap N] [--seed S] [--min-flips N]\n"
    "                    [--tiers H,M] [--items OUT.jsonl] [--md OUT.md]\n"
    "                    [--threads N] [--mem-budget SIZE] [--no-stream] [--matmul fp32|q8]\n"
    "                    [--allow-vocab-mismatch]\n"
    "\n"
    "Scores each GGUF FILE against the source model on held-out text, as llama-perplexity does:\n"
    "windows of --ctx tokens (default min(512, the model's context)), BOS first, the second half\n"
    "of each window scored. Reports perplexity with its error, and per container the KL divergence\n"
    "from the source (mean ± error, median, 99th percentile, max), top-token agreement, RMS of the\n"
    "change in the correct token's probability, and PPL(container)/PPL(source).\n"
    "  --source SRC   the unquantized model: HF folder, llama2.c checkpoint or GGUF\n"
    "  --eval TEXT    a UTF-8 text file (e.g. wiki.test.raw); optional with --tasks\n"
    "  --ctx N        tokens per window; above the model's training context it is accepted\n"
    "                 with a warning (and \"ctx_above_training\": true in the JSON)\n"
    "  --chunks N     score at most N windows (default: all)\n"
    "  --json         print the figures as JSON on stdout (the table goes to stderr)\n"
    "  --json-out F   write the figures as JSON to F\n"
    "  --threads N    CPU threads (default: all cores)\n"
    "  --mem-budget SIZE  memory for the windows in flight and one block (e.g. 2G, 512M; default\n"
    "                 half of MemAvailable): chooses how many windows (and --tasks items) go through\n"
    "                 the blocks together\n"
    "  --no-stream    the resident path: every weight of every model dequantized to fp32 and held\n"
    "                 (about 10 bytes per parameter); the same figures, bit for bit. By default the\n"
    "                 weights stay packed and the windows advance block by block, one block's\n"
    "                 packed bytes in memory at a time (--tasks too: batches of items advance block\n"
    "                 by block)\n"
    "  --matmul fp32|q8  how quantized weights are multiplied: fp32 (default) dequantizes tiles and\n"
    "                 runs the fp32 GEMM; q8 does what llama.cpp's CPU backend does: activations\n"
    "                 rounded to Q8_K (Q4_K, Q5_K, Q6_K) or Q8_0 (Q4_0, Q5_0, Q8_0), exact integer\n"
    "                 dot products per block (other types stay fp32 and are named on stderr and\n"
    "                 under \"matmul\" in the JSON), so the figures track llama-perplexity's. Bits\n"
    "                 independent of --threads. Not with --no-stream\n"
    "  --allow-vocab-mismatch  score a container whose tokenizer differs from the source's\n"
    "                 (tokens, types, bos/eos/unk/pad ids, merges) with a warning; by default\n"
    "                 that is an error naming the first difference\n"
    "  -q, --quiet    no progress output\n"
    "  -v, --verbose  also print the timings of loading and scoring\n"
    "\n";

/* the rest of --help (one literal of this size is past what C99 promises to support) */
static const char verify_usage_tasks[] =
    "Tasks: each container against the source on the same items (the source scored once).\n"
    "  --tasks TASK   [KIND:]PATH, repeatable or comma-separated; KIND is hellaswag (llama.cpp's\n"
    "                 6-line text), mc ({query, choices, gold}, {context_options, continuation, gold},\n"
    "                 PIQA's {goal, sol1, sol2} + NAME-labels.lst), cls ({text, label}; optional first\n"
    "                 line {\"labels\": [...], \"verbalizers\": [...]}), lambada ({context, continuation}:\n"
    "                 greedy match) or cloze (a plain text: last-word cloze, see 'ingot task --help');\n"
    "                 without KIND it is read from the file\n"
    "  --task-limit N score N items chosen as llama-perplexity chooses HellaSwag tasks (mt19937 seed 1)\n"
    "  --bootstrap N  paired bootstrap resamples for the 95% CI of Δacc (default 1000; 0: none)\n"
    "  --seed S       seed of the bootstrap and of calibration's halves (default 1)\n"
    "  --min-flips N  discordant items a Δ needs to be \"real\" (default 10)\n"
    "  --tiers H,M    categories in the head and mid tiers, by frequency (default 20,40)\n"
    "  --items F      per-item records as JSON lines (scores, prediction, correctness per model)\n"
    "  --md F         a Markdown summary\n"
    "HellaSwag's metric is llama-perplexity's acc_norm (mean log-prob per token after the endings'\n"
    "common prefix); other tasks use lm-eval's acc (sum of log-probs); lm-eval's acc and acc_norm\n"
    "(per byte) are reported too. Verdict per Δ: \"real\" when the CI excludes 0 and the flips reach\n"
    "--min-flips, \"directional\" on fewer flips, else \"no change\". ECE: 15 bins over softmax of the\n"
    "choice scores, before and after temperature scaling (T fit by NLL on [0.05, 20]; on half A,\n"
    "scored on half B, and in-sample).\n"
    "\n"
    "Exit codes: 0 scored; 2 bad input or usage; 3 I/O.\n";

struct verify_cli {
    const char *files[MAX_CONTAINERS];
    int n_files;
    const char *source, *eval, *json_out;
    int64_t n_ctx, max_chunks, threads;
    uint64_t mem_budget;   /* bytes; 0: verify_mem_budget_default() */
    bool quiet, verbose, json_stdout, allow_vocab_mismatch, no_stream;
    enum model_matmul matmul;   /* --matmul */
    FILE *human;   /* the table: stdout, or stderr under --json */
    struct verify_tasks_opts tasks;   /* --tasks and its flags */
};

struct loaded_model {
    struct model_src *src;
    struct model *model;
    uint64_t file_bytes, tensor_bytes;
    int64_t n_weights;
    char vocab_mismatch[IG_ERROR_MAX];   /* the difference scored under --allow-vocab-mismatch, or "" */
};

/* ---- arguments ------------------------------------------------------------------------------- */

/* --tasks A[,B...]: each a task spec (the commas are cut in place). */
static int add_tasks(struct verify_cli *o, char *arg)
{
    for (char *s = arg, *comma; s; s = comma ? comma + 1 : NULL) {
        if ((comma = strchr(s, ',')))
            *comma = '\0';
        if (!*s)
            continue;
        if (o->tasks.n_tasks == VERIFY_MAX_TASKS)
            return cli_usage_error("verify", "more than %d tasks", VERIFY_MAX_TASKS);
        o->tasks.tasks[o->tasks.n_tasks++] = s;
    }
    return 0;
}

/* --tiers H,M */
static int parse_tiers(struct verify_cli *o, const char *arg)
{
    long long h, m;
    char extra;
    if (sscanf(arg, "%lld,%lld%c", &h, &m, &extra) != 2 || h < 0 || m < 0 || h > 1000000 || m > 1000000)
        return cli_usage_error("verify", "--tiers: '%s' is not H,M (categories in the head and mid tiers, e.g. 20,40)",
                               arg);
    o->tasks.tier_head = h;
    o->tasks.tier_mid = m;
    return 0;
}

static int parse_verify(int argc, char **argv, struct verify_cli *o)
{
    static const struct option longopts[] = {
        {"source", required_argument, 0, 's'}, {"eval", required_argument, 0, 'e'},
        {"ctx", required_argument, 0, 'c'},    {"chunks", required_argument, 0, 'n'},
        {"json-out", required_argument, 0, 'j'}, {"threads", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},        {"help", no_argument, 0, 'h'},
        {"json", no_argument, 0, 'J'},         {"verbose", no_argument, 0, 'v'},
        {"tasks", required_argument, 0, 'T'},  {"task-limit", required_argument, 0, 'L'},
        {"bootstrap", required_argument, 0, 'B'}, {"seed", required_argument, 0, 'S'},
        {"min-flips", required_argument, 0, 'F'}, {"tiers", required_argument, 0, 'R'},
        {"items", required_argument, 0, 'I'},  {"md", required_argument, 0, 'M'},
        {"allow-vocab-mismatch", no_argument, 0, 'V'},
        {"mem-budget", required_argument, 0, 'G'}, {"no-stream", no_argument, 0, 'N'},
        {"matmul", required_argument, 0, 'X'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    verify_tasks_opts_default(&o->tasks);
    int64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
        const char *opt = cli_option_name(longopts, c);
        switch (c) {
        case 's': o->source = optarg; break;
        case 'e': o->eval = optarg; break;
        case 'j': o->json_out = optarg; break;
        case 'c': if (!cli_parse_int("verify", opt, optarg, 4, 1 << 20, &o->n_ctx)) return EXIT_BAD_INPUT; break;
        case 'n': if (!cli_parse_int("verify", opt, optarg, 1, INT32_MAX, &o->max_chunks)) return EXIT_BAD_INPUT; break;
        case 't': if (!cli_parse_int("verify", opt, optarg, 1, 4096, &o->threads)) return EXIT_BAD_INPUT; break;
        case 'q': o->quiet = true; break;
        case 'v': o->verbose = true; break;
        case 'J': o->json_stdout = true; break;
        case 'V': o->allow_vocab_mismatch = true; break;
        case 'N': o->no_stream = true; break;
        case 'X':
            if (strcmp(optarg, "fp32") != 0 && strcmp(optarg, "q8") != 0)
                return cli_usage_error("verify", "--matmul '%s': expected fp32 or q8", optarg);
            o->matmul = strcmp(optarg, "q8") == 0 ? MODEL_MATMUL_Q8 : MODEL_MATMUL_FP32;
            break;
        case 'G':
            if (verify_mem_budget_parse(optarg, &o->mem_budget))
                return cli_usage_error("verify", "%s", ig_error_message());
            break;
        case 'T': if (add_tasks(o, optarg)) return EXIT_BAD_INPUT; break;
        case 'L': if (!cli_parse_int("verify", opt, optarg, 1, INT32_MAX, &o->tasks.task_limit)) return EXIT_BAD_INPUT; break;
        case 'B': if (!cli_parse_int("verify", opt, optarg, 0, 1000000, &o->tasks.n_bootstrap)) return EXIT_BAD_INPUT; break;
        case 'S': if (!cli_parse_int("verify", opt, optarg, 0, UINT32_MAX, &v)) return EXIT_BAD_INPUT; o->tasks.seed = (uint32_t)v; break;
        case 'F': if (!cli_parse_int("verify", opt, optarg, 0, INT32_MAX, &o->tasks.min_flips)) return EXIT_BAD_INPUT; break;
        case 'R': if (parse_tiers(o, optarg)) return EXIT_BAD_INPUT; break;
        case 'I': o->tasks.items_path = optarg; break;
        case 'M': o->tasks.md_path = optarg; break;
        case 'h': fputs(verify_usage, stdout); fputs(verify_usage_tasks, stdout); exit(EXIT_OK);
        default: return cli_usage_error("verify", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->n_files == MAX_CONTAINERS)
            return cli_usage_error("verify", "more than %d files", MAX_CONTAINERS);
        o->files[o->n_files++] = argv[i];
    }
    if (!o->source || (!o->eval && o->tasks.n_tasks == 0))
        return cli_usage_error("verify", "--source SRC and --eval TEXT (or --tasks TASK) are required");
    /* the resident path holds fp32 copies: nothing packed is left to multiply in integers */
    if (o->matmul == MODEL_MATMUL_Q8 && o->no_stream)
        return cli_usage_error("verify", "--matmul q8 multiplies the packed weights, which --no-stream replaces "
                                         "by fp32 copies: drop one of the two");
    o->human = o->json_stdout ? stderr : stdout;
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------------ */

/* Packed (the default) or every weight fp32 (--no-stream). */
static int load_model(struct loaded_model *lm, const char *path, bool packed)
{
    memset(lm, 0, sizeof *lm);
    int rc = cli_model_src_open(&lm->src, path, NULL);
    if (!rc)
        rc = cli_check_rope_scaling(lm->src, "verify");
    if (!rc)
        rc = packed ? model_create_packed(&lm->model, lm->src, tensor_rows_f32_checked, NULL)
                    : model_create(&lm->model, lm->src, tensor_fetch_f32, NULL);
    if (rc)
        return rc;
    /* the bytes of every file read (a folder's shards, config and tokenizer), not the path's own
     * stat size, which for a folder is its directory entry */
    for (int i = 0; i < lm->src->n_files; i++)
        lm->file_bytes += lm->src->files[i].size_bytes;
    struct stat st;
    if (lm->src->n_files == 0 && stat(path, &st) == 0)
        lm->file_bytes = (uint64_t)st.st_size;
    for (int64_t i = 0; i < lm->src->n_tensors; i++) {
        const struct src_tensor *t = &lm->src->tensors[i];
        lm->tensor_bytes += t->size_bytes;
        lm->n_weights += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    return 0;
}

/* --matmul: how each weight type present is multiplied, over every model's matrices (the
 * embedding only when it is also the output projection: a lookup is not a product), as
 * {"Q4_K": "q8", "F16": "fp32", ...}; "mixed" when a type's tensors went both ways. */
static json_t *matmul_types(const struct verify_cli *o, const struct loaded_model *src,
                            const struct loaded_model *cm)
{
    json_t *types = json_object();
    for (int i = -1; i < o->n_files; i++) {
        const struct loaded_model *lm = i < 0 ? src : &cm[i];
        const bool tied = model_src_find(lm->src, "output.weight") == NULL;
        for (int64_t k = 0; k < lm->src->n_tensors; k++) {
            const struct src_tensor *t = &lm->src->tensors[k];
            if (t->n_dims < 2 || (!tied && strcmp(t->name, "token_embd.weight") == 0))
                continue;
            /* model/llama.c multiplies stacks of experts (3 dimensions) in fp32 */
            const bool q8 = o->matmul == MODEL_MATMUL_Q8 && t->n_dims < 3 && model_weight_q8(lm->model, t);
            const char *name = src_tensor_type_name(t), *mode = q8 ? "q8" : "fp32";
            const json_t *had = json_object_get(types, name);
            if (had && strcmp(json_string_value(had), mode) != 0)
                mode = "mixed";   /* some tensors of the type one way, some the other */
            json_object_set_new(types, name, json_string(mode));
        }
    }
    return types;
}

/* --matmul q8: say once which types run which way. */
static void matmul_note(const json_t *types)
{
    char q8[256] = "", fp[256] = "";
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)types, name, v) {
        char *dst = strcmp(json_string_value(v), "fp32") != 0 ? q8 : fp;   /* "mixed" types count as q8 */
        size_t n = strlen(dst);
        snprintf(dst + n, 256 - n, "%s%s", n ? ", " : "", name);
    }
    fprintf(stderr, "ingot verify: --matmul q8: %s multiplied as llama.cpp's CPU backend does (activations "
                    "rounded to Q8_K or Q8_0, integer dot products)%s%s%s\n", q8[0] ? q8 : "no weight type",
            fp[0] ? "; " : "", fp, fp[0] ? " in fp32 (no integer kernel)" : "");
}

static void unload_model(struct loaded_model *lm)
{
    model_destroy(lm->model);
    model_src_close(lm->src);
}

/* A container scored with another tokenizer than the source's measures nothing: the same id
 * names another string. Refused unless --allow-vocab-mismatch, which makes it a warning. */
static int check_vocab(const struct verify_cli *o, const struct loaded_model *src, struct loaded_model *cm,
                       const char *path)
{
    const struct model_hparams *hs = model_hparams(src->model), *hc = model_hparams(cm->model);
    if (hs->n_vocab != hc->n_vocab || hs->n_embd != hc->n_embd || hs->n_layer != hc->n_layer)
        return 0;   /* another model altogether: verify_perplexity says so with the shapes */
    int rc = vocab_compare(&src->src->vocab, o->source, &cm->src->vocab, path);
    if (!rc)
        return 0;
    char msg[IG_ERROR_MAX];
    snprintf(msg, sizeof msg, "%s", ig_error_message());
    if (!o->allow_vocab_mismatch)
        return ig_error_set(rc, "%s (pass --allow-vocab-mismatch to score it anyway)", msg);
    fprintf(stderr, "ingot verify: warning: %s; scored anyway (--allow-vocab-mismatch)\n", msg);
    snprintf(cm->vocab_mismatch, sizeof cm->vocab_mismatch, "%s", msg);
    return 0;
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
    fprintf(o->human, "source %s: PPL %.4f ± %.5f over %lld tokens (%lld windows of %lld, second halves scored) of %s\n",
           o->source, ppl, err, (long long)ss->n, (long long)n_chunks, (long long)n_ctx, o->eval);
    if (o->n_files == 0)
        return;
    fprintf(o->human, "\n%-28s %10s %6s %20s %16s %20s %9s %9s %9s %9s %8s\n", "container", "size", "bpw", "PPL", "PPL ratio",
           "KLD mean", "median", "p99", "max", "same top", "Δp RMS");
    for (int i = 0; i < o->n_files; i++) {
        const struct kld_summary *s = &sum[i];
        const char *name = strrchr(o->files[i], '/') ? strrchr(o->files[i], '/') + 1 : o->files[i];
        fprintf(o->human, "%-28.28s %10s %6.3f %11.4f ± %6.4f %8.5f ± %5.5f %10.6f ± %7.6f %9.6f %9.5f %9.5f %8.3f%% %7.3f%%\n",
               name, cli_bytes(cm[i].file_bytes, b, sizeof b), bits_per_weight(&cm[i]), s->ppl, s->ppl_stderr,
               s->ppl_ratio, s->ppl_ratio_stderr, s->kld_mean, s->kld_mean_stderr, s->kld_median, s->kld_p99,
               s->kld_max, s->same_top_pct, 100.0 * s->dp_rms);
    }
}

/* What verify found about its own setup, for the JSON: the training context and the
 * warnings printed. */
struct verify_notes {
    int64_t n_ctx_train;    /* 0: the model does not say */
    bool ctx_above_training;
    bool streamed;
    struct verify_mem_plan plan;   /* streamed: the budget and the window batch it gave */
    uint64_t peak_rss_bytes;       /* getrusage's ru_maxrss after scoring */
};

/* CPU seconds (user + system, every thread) the process has used so far: on a shared machine a
 * steadier measure of the work than the wall clock (bench/bench_verify_ratio.sh reports both). */
static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* The process's peak resident set so far (Linux reports kilobytes). */
static uint64_t peak_rss_bytes(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
}

static json_t *perplexity_json(const struct verify_cli *o, const struct ppl_stats *ss, const struct loaded_model *cm,
                               const struct kld_summary *sum, int64_t n_ctx, int64_t n_chunks,
                               const struct verify_notes *vn)
{
    double ppl, err;
    ppl_stats_result(ss, &ppl, &err);
    json_t *containers = json_array();
    for (int i = 0; i < o->n_files; i++) {
        const struct kld_summary *s = &sum[i];
        json_t *c =
            json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:f}", "file",
                      o->files[i], "ppl", cli_json_number(s->ppl), "ppl_stderr", cli_json_number(s->ppl_stderr),
                      "ppl_ratio", cli_json_number(s->ppl_ratio), "ppl_ratio_stderr",
                      cli_json_number(s->ppl_ratio_stderr), "kld_mean", cli_json_number(s->kld_mean),
                      "kld_mean_stderr", cli_json_number(s->kld_mean_stderr), "kld_median",
                      cli_json_number(s->kld_median), "kld_p99", cli_json_number(s->kld_p99), "kld_max",
                      cli_json_number(s->kld_max), "same_top_pct", cli_json_number(s->same_top_pct),
                      "same_top_stderr_pct", cli_json_number(s->same_top_stderr_pct), "dp_rms",
                      cli_json_number(s->dp_rms), "bytes", (json_int_t)cm[i].file_bytes, "bits_per_weight",
                      bits_per_weight(&cm[i]));
        /* null, or the first difference between its tokenizer and the source's */
        json_object_set_new(c, "vocab_mismatch",
                            cm[i].vocab_mismatch[0] ? json_string(cm[i].vocab_mismatch) : json_null());
        json_array_append_new(containers, c);
    }
    json_t *j = json_pack("{s:{s:s, s:o, s:o, s:I}, s:{s:s, s:I, s:I, s:o, s:b}, s:o}", "source", "path", o->source,
                          "ppl", cli_json_number(ppl), "ppl_stderr", cli_json_number(err), "tokens", (json_int_t)ss->n,
                          "eval", "path", o->eval, "ctx", (json_int_t)n_ctx, "chunks", (json_int_t)n_chunks,
                          "n_ctx_train", vn->n_ctx_train > 0 ? json_integer(vn->n_ctx_train) : json_null(),
                          "ctx_above_training", vn->ctx_above_training, "containers", containers);
    json_t *mem = json_pack("{s:b, s:I, s:o, s:o, s:o, s:o}", "streamed", vn->streamed, "peak_rss_bytes",
                            (json_int_t)vn->peak_rss_bytes, "window_batch",
                            vn->streamed ? json_integer(vn->plan.window_batch) : json_null(), "mem_budget_bytes",
                            vn->streamed ? json_integer((json_int_t)vn->plan.budget_bytes) : json_null(),
                            "fixed_bytes", vn->streamed ? json_integer((json_int_t)vn->plan.fixed_bytes) : json_null(),
                            "per_window_bytes",
                            vn->streamed ? json_integer((json_int_t)vn->plan.per_window_bytes) : json_null());
    json_object_set_new(j, "memory", mem);
    /* the two figures a reader looks for first, also at the top level */
    json_object_set_new(j, "peak_rss_bytes", json_integer((json_int_t)vn->peak_rss_bytes));
    json_object_set_new(j, "window_batch", vn->streamed ? json_integer(vn->plan.window_batch) : json_null());
    return j;
}

/* The last guard before printing: a figure that is not finite (which finite weights and
 * logits should never give) is an error, never a "nan" in a table that exits 0. */
static int check_finite_figures(const char *file, const struct kld_summary *s)
{
    const double v[] = {s->ppl, s->ppl_ratio, s->kld_mean, s->kld_max, s->same_top_pct, s->dp_rms};
    const char *const names[] = {"PPL", "PPL ratio", "mean KLD", "max KLD", "same-top %", "RMS of Δp"};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        if (!isfinite(v[k]))
            return ig_error_set(IG_EINVAL, "verify: %s: its %s is %g, not a finite number", file, names[k], v[k]);
    return 0;
}

/* verify's per-block progress (verify_opts.on_block): the bar moves with the blocks while one
 * batch holds many windows; the lines a log gets stay rate-limited (progress_show). */
static void progress_block(void *ctx, double windows_done, int64_t total, int64_t block, int64_t n_blocks)
{
    char label[64];
    (void)total;   /* the bar's own */
    snprintf(label, sizeof label, "block %lld of %lld", (long long)block, (long long)n_blocks);
    progress_show(ctx, windows_done, label);
}

/* ---- the command --------------------------------------------------------------------------------- */

static int run_perplexity(const struct verify_cli *o, struct loaded_model *src, struct loaded_model *cm,
                          struct verify_target *targets, json_t **doc)
{
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    int rc = cli_tokenize_file(&src->src->vocab, o->eval, &ids, &n_ids);
    if (rc)
        return ig_error_wrap(rc, "--eval");   /* the message names the file */
    const struct model_hparams *hp = model_hparams(src->model);
    const struct vocab *v = &src->src->vocab;
    struct progress prog;
    struct verify_opts vo = {0};
    vo.n_ctx = o->n_ctx ? o->n_ctx : (hp->n_ctx_train > 0 && hp->n_ctx_train < 512 ? hp->n_ctx_train : 512);
    struct verify_notes vn = {hp->n_ctx_train, hp->n_ctx_train > 0 && vo.n_ctx > hp->n_ctx_train, false, {0}, 0};
    if (vn.ctx_above_training)
        fprintf(stderr,
                "ingot verify: warning: --ctx %lld is above %s's training context of %lld tokens "
                "(context_length / max_position_embeddings): positions past it were never trained, so "
                "the perplexities describe extrapolation\n",
                (long long)vo.n_ctx, o->source, (long long)hp->n_ctx_train);
    /* phi3 longrope picks its factors by the window; phi3's disabled sliding window warned */
    cli_set_rope_ctx(src->model, src->src, "verify", vo.n_ctx);
    for (int i = 0; i < o->n_files; i++)
        cli_set_rope_ctx(cm[i].model, cm[i].src, "verify", vo.n_ctx);
    vo.max_chunks = o->max_chunks;
    vo.bos = v->add_bos != 0 && v->bos_id >= 0 ? (int32_t)v->bos_id : -1;
    vo.on_chunk = progress_window;
    vo.on_block = progress_block;
    vo.on_chunk_ctx = &prog;
    if (n_ids < 2 * vo.n_ctx) {
        free(ids);
        return ig_error_set(IG_EINVAL, "--eval %s: the text has %lld tokens; perplexity needs at least 2 x ctx = %lld "
                            "(a longer text, or a smaller --ctx)", o->eval, (long long)n_ids, (long long)(2 * vo.n_ctx));
    }
    int64_t n_chunks = verify_n_chunks(n_ids, &vo), capacity = n_chunks * verify_scored_per_chunk(vo.n_ctx);
    for (int i = 0; i < o->n_files && !rc; i++)
        rc = kld_stats_init(&targets[i].stats, capacity);
    struct ppl_stats ss;
    struct kld_summary sum[MAX_CONTAINERS];
    vn.streamed = model_is_packed(src->model);
    if (vn.streamed)
        verify_mem_plan_make(&vn.plan, src->model, targets, o->n_files, vo.n_ctx, n_chunks,
                             o->mem_budget ? o->mem_budget : verify_mem_budget_default());
    progress_begin(&prog, n_chunks, o->quiet);
    const double cpu0 = cpu_seconds();
    if (!rc)
        rc = vn.streamed ? verify_perplexity_streamed(src->model, &ss, targets, o->n_files, ids, n_ids, &vo,
                                                      vn.plan.window_batch)
                         : verify_perplexity(src->model, &ss, targets, o->n_files, ids, n_ids, &vo);
    vn.peak_rss_bytes = peak_rss_bytes();
    if (!rc) {
        double ppl_src, err_src;
        ppl_stats_result(&ss, &ppl_src, &err_src);
        if (!isfinite(ppl_src))
            rc = ig_error_set(IG_EINVAL, "verify: %s (the source): its PPL is %g, not a finite number", o->source,
                              ppl_src);
    }
    for (int i = 0; i < o->n_files && !rc; i++) {
        kld_stats_summarize(&targets[i].stats, &sum[i]);
        rc = check_finite_figures(o->files[i], &sum[i]);
    }
    if (!rc)
        print_table(o, &ss, cm, sum, vo.n_ctx, n_chunks);
    if (!rc) {
        char b1[32], b2[32];
        if (vn.streamed)
            fprintf(o->human, "\nmemory: peak RSS %s; streamed, %lld of %lld windows per batch (budget %s)\n",
                    cli_bytes(vn.peak_rss_bytes, b1, sizeof b1), (long long)vn.plan.window_batch,
                    (long long)n_chunks, cli_bytes(vn.plan.budget_bytes, b2, sizeof b2));
        else
            fprintf(o->human, "\nmemory: peak RSS %s; resident (--no-stream)\n",
                    cli_bytes(vn.peak_rss_bytes, b1, sizeof b1));
    }
    double s_score = progress_end(&prog);
    if (o->verbose)
        fprintf(stderr, "ingot verify: scored %lld windows of %lld tokens in %.2fs (cpu %.2fs)\n", (long long)n_chunks,
                (long long)vo.n_ctx, s_score, cpu_seconds() - cpu0);
    if (!rc)
        *doc = perplexity_json(o, &ss, cm, sum, vo.n_ctx, n_chunks, &vn);
    free(ids);
    return rc;
}

/* The document of a run without --eval: the files, no perplexity. */
static json_t *tasks_only_json(const struct verify_cli *o, const struct loaded_model *cm)
{
    json_t *containers = json_array();
    for (int i = 0; i < o->n_files; i++)
        json_array_append_new(containers, json_pack("{s:s, s:I, s:f, s:o}", "file", o->files[i], "bytes",
                                                    (json_int_t)cm[i].file_bytes, "bits_per_weight",
                                                    bits_per_weight(&cm[i]), "vocab_mismatch",
                                                    cm[i].vocab_mismatch[0] ? json_string(cm[i].vocab_mismatch)
                                                                            : json_null()));
    return json_pack("{s:{s:s}, s:n, s:o}", "source", "path", o->source, "eval", "containers", containers);
}

/* --tasks: figures under "tasks" in doc, and each container's also in its "containers" entry. */
static int run_tasks(const struct verify_cli *o, struct loaded_model *src, struct loaded_model *cm, json_t *doc)
{
    struct verify_tasks_model source = {o->source, src->model}, cs[MAX_CONTAINERS];
    json_t *cj[MAX_CONTAINERS], *containers = json_object_get(doc, "containers"), *tasks = NULL;
    for (int i = 0; i < o->n_files; i++) {
        cs[i] = (struct verify_tasks_model){o->files[i], cm[i].model};
        cj[i] = json_array_get(containers, (size_t)i);
    }
    struct verify_tasks_opts to = o->tasks;
    to.quiet = o->quiet;
    to.human = o->human;
    int rc = verify_tasks_run(&to, &src->src->vocab, &source, cs, o->n_files, cj, &tasks);
    if (!rc) {
        json_object_set_new(doc, "tasks", tasks);
        /* the whole run's peak, tasks included (memory.peak_rss_bytes is perplexity's) */
        json_object_set_new(doc, "peak_rss_bytes", json_integer((json_int_t)peak_rss_bytes()));
    }
    return rc;
}

static int run_verify(const struct verify_cli *o, struct loaded_model *src, struct loaded_model *cm,
                      struct verify_target *targets)
{
    json_t *doc = NULL, *types = matmul_types(o, src, cm);
    if (o->matmul == MODEL_MATMUL_Q8)
        matmul_note(types);
    int rc = o->eval ? run_perplexity(o, src, cm, targets, &doc) : 0;
    if (!rc && !o->eval)
        doc = tasks_only_json(o, cm);
    if (!rc && !doc)
        rc = ig_error_set(IG_ENOMEM, "verify: cannot build the JSON document");
    /* how the weights were multiplied: the mode asked for, and per type what it gave */
    if (!rc)
        json_object_set_new(doc, "matmul", json_pack("{s:s, s:o}", "mode", o->matmul == MODEL_MATMUL_Q8 ? "q8" : "fp32",
                                                     "types", types));
    else
        json_decref(types);
    if (!rc && o->tasks.n_tasks > 0)
        rc = run_tasks(o, src, cm, doc);
    if (!rc && (o->json_out || o->json_stdout))
        return cli_json_emit(doc, o->json_stdout, o->json_out);   /* it releases doc */
    json_decref(doc);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    struct verify_cli o;
    int rc = parse_verify(argc, argv, &o);
    if (rc)
        return rc;
    cpu_set_threads((int)o.threads);
    /* --tasks' batches of items fill the same budget as perplexity's windows (task_stream.c) */
    verify_task_mem_budget_set(o.mem_budget ? o.mem_budget : verify_mem_budget_default());
    struct loaded_model src = {0}, cm[MAX_CONTAINERS];
    struct verify_target targets[MAX_CONTAINERS];
    memset(cm, 0, sizeof cm);
    memset(targets, 0, sizeof targets);
    double t0 = cli_now();
    /* perplexity and the task scorer both stream blocks over packed weights (verify/stream.c,
     * verify/task_stream.c) */
    const bool packed = !o.no_stream;
    rc = load_model(&src, o.source, packed);
    if (!rc)
        model_set_matmul(src.model, o.matmul);
    for (int i = 0; i < o.n_files && !rc; i++) {
        rc = load_model(&cm[i], o.files[i], packed);
        targets[i].model = cm[i].model;
        if (!rc)
            model_set_matmul(cm[i].model, o.matmul);
        if (!rc)
            rc = check_vocab(&o, &src, &cm[i], o.files[i]);
    }
    if (!rc && o.verbose)
        fprintf(stderr, "ingot verify: loaded the source and %d containers in %.2fs\n", o.n_files, cli_now() - t0);
    if (!rc)
        rc = run_verify(&o, &src, cm, targets);
    for (int i = 0; i < o.n_files; i++) {
        kld_stats_free(&targets[i].stats);
        unload_model(&cm[i]);
    }
    unload_model(&src);
    return rc ? cli_fail("verify", rc) : EXIT_OK;
}
