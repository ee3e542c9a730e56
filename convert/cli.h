/* cli.h — the ingot command: subcommands and the helpers they share.
 *
 * convert/ is the only folder that knows about the command line: it parses arguments,
 * calls the library, prints, and maps status codes to exit codes (design.md):
 * 0 success, 1 a quality gate or check failed, 2 bad input or usage, 3 I/O or device.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define INGOT_VERSION "0.1.0"

enum cli_exit {
    EXIT_OK = 0,
    EXIT_GATE = 1,
    EXIT_BAD_INPUT = 2,
    EXIT_IO = 3,
};

int cmd_convert(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_imatrix(int argc, char **argv);

struct vocab;
/* Read the text file at path and tokenize it with v, BOS first when v says so
 * (llama.cpp's add_special). *ids is heap-owned by the caller. Returns 0 or an IG_E code. */
int cli_tokenize_file(const struct vocab *v, const char *path, int32_t **ids, int64_t *n_ids);
int cmd_verify(int argc, char **argv);

/* Print "ingot <cmd>: error: <library message>" and return the exit code for rc. */
int cli_fail(const char *cmd, int rc);

/* Print a usage error ("ingot <cmd>: <message>; see 'ingot <cmd> --help'") and return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a positive integer option value; returns false (after printing) if invalid. */
bool cli_parse_int(const char *cmd, const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out);

/* Remember the temporary output file so SIGINT/SIGTERM remove it (NULL to forget). */
void cli_set_tmp_output(const char *tmp_path);

/* Human-readable byte count ("6.52 MiB") into buf. */
const char *cli_bytes(uint64_t n, char *buf, size_t size);

/* A progress display on stderr: a bar on a terminal, one line per step otherwise
 * (silent when quiet). */
struct progress {
    int64_t total;
    int64_t done;
    bool tty;
    bool quiet;
    double t_start;
};

void progress_begin(struct progress *p, int64_t total, bool quiet);
void progress_step(struct progress *p, const char *label);
void progress_end(struct progress *p);

/* A (done, total) callback for windowed work (verify, imatrix); ctx is a struct progress. */
void progress_window(void *ctx, int64_t done, int64_t total);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif /* CLI_H */
