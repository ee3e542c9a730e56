/* main.c — ingot's entry point: dispatch to a subcommand, shared CLI helpers. */
#include "cli.h"

#include "../common/ig_error.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: ingot <command> [options]\n"
    "\n"
    "commands:\n"
    "  convert SRC -o OUT.gguf [--type F16]   convert an HF folder, GGUF or llama2.c checkpoint\n"
    "  inspect FILE|FOLDER [--json]           metadata, tensors, bits per weight, provenance\n"
    "  check FILE                             verify offsets, sizes and recorded checksums\n"
    "  verify FILE... --source SRC --eval TEXT  perplexity, KL divergence, top-token agreement\n"
    "  imatrix SRC --calib TEXT -o FILE       llama.cpp importance matrix over calibration text\n"
    "  synth -o FOLDER [--seed N]             write a small seeded llama model and corpus (demo)\n"
    "\n"
    "'ingot <command> --help' describes each command. Exit codes: 0 success, 1 a check or\n"
    "quality gate failed, 2 bad input or usage, 3 I/O or device failure.\n";

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

bool cli_parse_int(const char *cmd, const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < lo || v > hi) {
        cli_usage_error(cmd, "option %s: '%s' is not an integer in %lld..%lld", opt, text, (long long)lo,
                        (long long)hi);
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

/* ---- interrupted writes ----------------------------------------------------------------- */

static char tmp_output[4096];

static void on_signal(int sig)
{
    if (tmp_output[0])
        unlink(tmp_output);   /* async-signal-safe */
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
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
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
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD_INPUT : EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ingot %s\n", INGOT_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ingot: unknown command '%s'\n\n%s", argv[1], usage);
    return EXIT_BAD_INPUT;
}
