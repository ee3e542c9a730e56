/* cmd_task.c — `ingot task make-cloze TEXT -o OUT.jsonl [--seed S]`: build the deterministic
 * last-word cloze task (verify/cloze.h) from held-out text, as multiple-choice JSON lines that
 * `ingot verify --tasks` reads. `--tasks cloze:TEXT` builds the same task in memory with the
 * default settings.
 */
#include "cli.h"

#include "../common/ig_error.h"
#include "../verify/cloze.h"
#include "../verify/task_files.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char task_usage[] =
    "usage: ingot task make-cloze TEXT -o OUT.jsonl [--seed S] [--items N] [--choices K] [--context-bytes B]\n"
    "\n"
    "Builds a last-word cloze task from a plain text (e.g. held-out TinyStories): every sentence of\n"
    "at least 5 words ending in a word of 3-24 letters is a candidate; the query is the sentence\n"
    "without that word, after the earlier sentences of its paragraph while it stays within B bytes;\n"
    "the choices are the word and K-1 other answers drawn from the text. The same TEXT and seed\n"
    "always give the same file. Each line: {\"query\", \"choices\", \"gold\", \"category\"}.\n"
    "  -o, --output F      the JSON lines file to write\n"
    "  --seed S            mt19937 seed (default 1)\n"
    "  --items N           at most N items, a seeded choice kept in text order (default 500)\n"
    "  --choices K         choices per item (default 4)\n"
    "  --context-bytes B   longest query (default 400)\n"
    "\n"
    "Exit codes: 0 written; 2 bad input or usage; 3 I/O.\n";

static int make_cloze(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},  {"seed", required_argument, 0, 's'},
        {"items", required_argument, 0, 'n'},   {"choices", required_argument, 0, 'k'},
        {"context-bytes", required_argument, 0, 'b'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *out = NULL;
    int64_t seed = TASK_CLOZE_SEED, items = TASK_CLOZE_ITEMS, choices = 4, ctx_bytes = 400;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        const char *opt = cli_option_name(longopts, c);
        switch (c) {
        case 'o': out = optarg; break;
        case 's': if (!cli_parse_int("task", opt, optarg, 0, UINT32_MAX, &seed)) return EXIT_BAD_INPUT; break;
        case 'n': if (!cli_parse_int("task", opt, optarg, 1, INT32_MAX, &items)) return EXIT_BAD_INPUT; break;
        case 'k': if (!cli_parse_int("task", opt, optarg, 2, 64, &choices)) return EXIT_BAD_INPUT; break;
        case 'b': if (!cli_parse_int("task", opt, optarg, 16, 1 << 20, &ctx_bytes)) return EXIT_BAD_INPUT; break;
        case 'h': fputs(task_usage, stdout); return EXIT_OK;
        default: return cli_usage_error("task", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc || !out)
        return cli_usage_error("task", "make-cloze takes one TEXT and -o OUT.jsonl");
    const char *text_path = argv[optind];
    FILE *f = fopen(text_path, "rb");
    if (!f) {
        ig_error_set(IG_EINVAL, "%s: cannot open", text_path);
        return cli_fail("task", IG_EINVAL);
    }
    size_t cap = 1 << 20, n = 0, got;
    char *text = malloc(cap);
    while (text && (got = fread(text + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) {
            char *grown = realloc(text, cap *= 2);
            if (!grown) {
                free(text);
                text = NULL;
            }
            text = grown;
        }
    fclose(f);
    if (!text)
        return cli_fail("task", ig_error_set(IG_ENOMEM, "%s: out of memory", text_path));
    struct cloze_opts o = {.seed = (uint32_t)seed, .max_items = items, .n_choices = (int32_t)choices,
                           .max_context_bytes = ctx_bytes};
    char *jsonl;
    int64_t n_items;
    int rc = cloze_build(text, n, &o, &jsonl, &n_items);
    free(text);
    if (rc)
        return cli_fail("task", ig_error_wrap(rc, "%s", text_path));
    FILE *w = fopen(out, "w");
    if (!w || fputs(jsonl, w) == EOF || fclose(w) != 0)
        rc = ig_error_set(IG_EIO, "%s: cannot write", out);
    free(jsonl);
    if (rc)
        return cli_fail("task", rc);
    fprintf(stderr, "ingot task: wrote %lld cloze items to %s (seed %lld)\n", (long long)n_items, out, (long long)seed);
    return EXIT_OK;
}

int cmd_task(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "make-cloze") == 0)
        return make_cloze(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(task_usage, stdout);
        return EXIT_OK;
    }
    fputs(task_usage, stderr);
    return cli_usage_error("task", "expected a subcommand: make-cloze");
}
