/* main.c — ingot's entry point: dispatch to a subcommand, shared CLI helpers. */
#include "cli.h"

#include "../common/ig_error.h"
#include "../formats/model_src.h"

#include <cblas.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <errno.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* The commit the binary was built from, passed in by the Makefile (git rev-parse). */
#ifndef INGOT_COMMIT
#define INGOT_COMMIT "unknown"
#endif

static const char usage[] =
    "usage: ingot <command> [options]\n"
    "\n"
    "commands:\n"
    "  convert SRC -o OUT.gguf [--type F16]   convert an HF folder, GGUF or llama2.c checkpoint\n"
    "  inspect FILE|FOLDER [--json]           metadata, tensors, bits per weight, provenance\n"
    "  check FILE [--json]                    verify offsets, sizes and recorded checksums\n"
    "  verify FILE... --source SRC --eval TEXT  perplexity, KL divergence, top-token agreement\n"
    "         [--tasks TASK...]               task accuracy, paired CIs, flips, calibration, tiers\n"
    "  task make-cloze TEXT -o OUT.jsonl      a deterministic last-word cloze task from held-out text\n"
    "  imatrix SRC --calib TEXT -o FILE       llama.cpp importance matrix over calibration text\n"
    "  batch MANIFEST.yaml [--jobs N] [--shard I/N]  models x methods x types, gates, report\n"
    "  synth -o FOLDER [--seed N]             write a small seeded llama model and corpus (demo)\n"
    "\n"
    "'ingot help <command>' or 'ingot <command> --help' describes each command;\n"
    "'ingot --version' names the build. convert, verify, imatrix, inspect and check take\n"
    "--json (the JSON document on stdout, the human output on stderr) and --json-out FILE\n"
    "(the document to FILE).\n"
    "Exit codes: 0 success; 1 a quality gate failed; 2 bad input or usage, including a\n"
    "damaged file ('ingot check' finds a flipped bit); 3 I/O or device failure.\n";

/* ---- exit codes and messages ------------------------------------------------------------ */

int cli_fail(const char *cmd, int rc)
{
    fprintf(stderr, "ingot %s: error: %s\n", cmd, ig_error_message()[0] ? ig_error_message() : ig_status_name(rc));
    return rc == IG_EINVAL ? EXIT_BAD_INPUT : EXIT_IO;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ingot %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "; see 'ingot %s --help'\n", cmd);
    return EXIT_BAD_INPUT;
}

const char *cli_option_name(const struct option *longopts, int val)
{
    static _Thread_local char name[64];
    for (int i = 0; longopts[i].name; i++)
        if (longopts[i].val == val) {
            snprintf(name, sizeof name, "--%s", longopts[i].name);
            return name;
        }
    snprintf(name, sizeof name, "-%c", val);
    return name;
}

bool cli_parse_int(const char *cmd, const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        cli_usage_error(cmd, "%s: '%s' is not an integer in %lld..%lld", opt, text, (long long)lo, (long long)hi);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_bytes(uint64_t n, char *buf, size_t size)
{
    if (n >= (1ull << 30))
        snprintf(buf, size, "%.2f GiB", (double)n / (1ull << 30));
    else if (n >= (1ull << 20))
        snprintf(buf, size, "%.2f MiB", (double)n / (1ull << 20));
    else if (n >= 1024)
        snprintf(buf, size, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, size, "%llu B", (unsigned long long)n);
    return buf;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- sources -------------------------------------------------------------------------------- */

static bool has_suffix_nocase(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int cli_model_src_open(struct model_src **src, const char *path, const char *tokenizer_path)
{
    struct stat st;
    bool is_file = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    if (is_file && (has_suffix_nocase(path, ".json") || has_suffix_nocase(path, ".safetensors"))) {
        *src = NULL;
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int)(slash - path) : 1;
        return ig_error_set(IG_EINVAL,
                            "%s: this is one file of an HF model; SRC must be an HF folder (config.json, "
                            "*.safetensors, tokenizer.model or tokenizer.json), a GGUF file or a llama2.c .bin "
                            "checkpoint: pass the folder '%.*s'",
                            path, dir_len, slash ? path : ".");
    }
    return model_src_open(src, path, tokenizer_path);
}

/* ---- JSON documents ---------------------------------------------------------------------- */

struct json_t *cli_json_number(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

int cli_json_emit(struct json_t *j, bool to_stdout, const char *path)
{
    int rc = 0;
    if (!j)
        return ig_error_set(IG_ENOMEM, "cannot build the JSON document");
    if (to_stdout) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        else
            rc = ig_error_set(IG_ENOMEM, "cannot format the JSON document");
        free(text);
        fflush(stdout);
    }
    if (!rc && path && json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        rc = ig_error_set(IG_EIO, "%s: cannot write the JSON document", path);
    json_decref(j);
    return rc;
}

/* ---- the build ---------------------------------------------------------------------------- */

static void print_version(void)
{
    printf("ingot %s (commit %s)\n", INGOT_VERSION, INGOT_COMMIT);
#ifdef _OPENMP
    printf("OpenMP: yes (version %d, %d threads available)\n", _OPENMP, omp_get_max_threads());
#else
    printf("OpenMP: no (single-threaded build)\n");
#endif
    printf("BLAS: %s\n", openblas_get_config());
    printf("CUDA: no (this build has only the CPU backend)\n");
}

/* ---- interrupted writes ----------------------------------------------------------------- */

static char tmp_output[4096];

/* Signals that end the process while the output is written: each removes the temporary
 * file and says why. SIGBUS: a mapped source was truncated under us; SIGXFSZ: the output
 * passed the file size limit (ulimit -f). */
static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGBUS, SIGXFSZ};

static void say(const char *s)
{
    ssize_t n = write(STDERR_FILENO, s, strlen(s));   /* async-signal-safe */
    (void)n;
}

static void on_signal(int sig)
{
    say(sig == SIGBUS ? "ingot: SIGBUS: a mapped input file was truncated or became unreadable while being read"
        : sig == SIGXFSZ ? "ingot: SIGXFSZ: the output passed the file size limit (ulimit -f)"
                         : "ingot: interrupted by a signal");
    if (tmp_output[0]) {
        say("; removed the partial output ");
        say(tmp_output);
        unlink(tmp_output);
    }
    say("\n");
    signal(sig, SIG_DFL);
    raise(sig);
}

void cli_set_tmp_output(const char *tmp_path)
{
    if (!tmp_path) {
        tmp_output[0] = '\0';
        return;
    }
    snprintf(tmp_output, sizeof tmp_output, "%s", tmp_path);
    /* keep an inherited SIG_IGN (nohup, a shell's `trap '' HUP`): the caller asked for it */
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(fatal_signals[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

/* ---- dispatch ----------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"convert", cmd_convert},
        {"inspect", cmd_inspect},
        {"check", cmd_check},
        {"synth", cmd_synth},
        {"verify", cmd_verify},
        {"imatrix", cmd_imatrix},
        {"batch", cmd_batch},
        {"task", cmd_task},
    };
    const size_t n_commands = sizeof commands / sizeof commands[0];
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD_INPUT : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        print_version();
        return EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        /* `ingot help convert` is `ingot convert --help` */
        for (size_t i = 0; i < n_commands; i++)
            if (strcmp(argv[2], commands[i].name) == 0) {
                char *help_argv[] = {argv[2], "--help", NULL};
                optind = 1;
                return commands[i].fn(2, help_argv);
            }
        fprintf(stderr, "ingot help: unknown command '%s'\n\n%s", argv[2], usage);
        return EXIT_BAD_INPUT;
    }
    for (size_t i = 0; i < n_commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ingot: unknown command '%s'\n\n%s", argv[1], usage);
    return EXIT_BAD_INPUT;
}
