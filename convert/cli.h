/* cli.h — the ingot command: subcommands and the helpers they share.
 *
 * convert/ is the only folder that knows about the command line: it parses arguments,
 * calls the library, prints, and maps status codes to exit codes (design.md):
 * 0 success; 1 a quality gate failed; 2 bad input or usage, a damaged file included (a
 * checksum that `ingot check` finds wrong); 3 I/O or device.
 *
 * JSON, one convention for every command: --json prints the JSON document on stdout (the
 * human text then goes to stderr), --json-out FILE writes it to FILE. A figure that does
 * not exist is null, never a sentinel number.
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
int cmd_batch(int argc, char **argv);
int cmd_task(int argc, char **argv);

struct vocab;
/* Read the text file at path and tokenize it with v, BOS first when v says so
 * (llama.cpp's add_special). *ids is heap-owned by the caller. Returns 0 or an IG_E code. */
int cli_tokenize_file(const struct vocab *v, const char *path, int32_t **ids, int64_t *n_ids);
struct model_src;
/* model_src_open(), after catching the usual mistake of naming one file of an HF folder
 * (config.json, *.safetensors) as SRC, which the llama2.c reader would otherwise report as
 * a bad llama2.c header. Returns what model_src_open returns, or IG_EINVAL. */
int cli_model_src_open(struct model_src **src, const char *path, const char *tokenizer_path);

/* Print "ingot <cmd>: error: <library message>" and return the exit code for rc. */
int cli_fail(const char *cmd, int rc);

/* Print a usage error ("ingot <cmd>: <message>; see 'ingot <cmd> --help'") and return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct option;
/* "--threads": the long name of the option getopt_long returned as val, for messages
 * (argv[optind - 1] is the value, not the option, when they are separate words).
 * Returns a thread-local buffer. */
const char *cli_option_name(const struct option *longopts, int val);

/* Parse an integer option value in lo..hi; returns false after printing
 * "ingot <cmd>: <opt>: '<text>' is not an integer in lo..hi; see ...". */
bool cli_parse_int(const char *cmd, const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out);

struct json_t;
/* Print j on stdout (to_stdout) and/or write it to path (non-NULL); takes j's reference.
 * Returns 0, IG_EIO naming path, or IG_ENOMEM (j NULL: a json_pack that failed). */
int cli_json_emit(struct json_t *j, bool to_stdout, const char *path);

/* x as a JSON number, or null when x is not finite (jansson refuses NaN and Inf). */
struct json_t *cli_json_number(double x);

/* IG_EINVAL naming src and its rope scaling when the forward pass (model/llama.c) does
 * not compute that scaling as llama.cpp does (cmd names the command: "verify", ...); 0
 * otherwise. verify, imatrix and calibrated convert call it before running the model. */
int cli_check_rope_scaling(const struct model_src *src, const char *cmd);

struct model;
/* The window length m runs with (n_ctx tokens per sequence): longrope's long or short factors
 * follow it (model_set_ctx_len). For a phi3 src whose attention.sliding_window is below n_ctx,
 * a warning on stderr (once per command): llama.cpp disables phi3's sliding window, and so
 * does ingot, so such windows are scored with full attention. */
void cli_set_rope_ctx(struct model *m, const struct model_src *src, const char *cmd, int64_t n_ctx);

/* Write s[0..len), bytes from a file, for a terminal: valid UTF-8 as it is; control
 * characters (C0, DEL, C1) and bytes of invalid UTF-8 as \xNN; with quote also '"' and '\\'
 * backslash-escaped. Returns whether a byte had to be written as \xNN. */
bool cli_fputs_escaped(FILE *f, const char *s, size_t len, bool quote);

/* s[0..len) as a JSON string, each byte of invalid UTF-8 replaced by U+FFFD; sets
 * *n_replaced to how many were. NULL only when out of memory. */
struct json_t *cli_json_string_lossy(const char *s, size_t len, int64_t *n_replaced);

/* Remember the temporary output file so SIGINT/SIGTERM remove it (NULL to forget). */
void cli_set_tmp_output(const char *tmp_path);

/* Human-readable byte count ("6.52 MiB") into buf. */
const char *cli_bytes(uint64_t n, char *buf, size_t size);

/* A progress display on stderr: a bar on a terminal, plain lines otherwise (silent when
 * quiet), with the elapsed time and an estimate of the time left. */
struct progress {
    int64_t total;
    int64_t done;
    bool tty;
    bool quiet;
    double t_start;
    double t_last;   /* when the display was last drawn */
    bool shown;      /* progress_show() drew since the last progress_step() */
};

void progress_begin(struct progress *p, int64_t total, bool quiet);
/* One of total steps done: redraw the bar, or print one line. */
void progress_step(struct progress *p, const char *label);
/* Progress within a step: pos in [done, done + 1) of total. The first call after a step
 * always draws; later ones at most 10 times a second on a terminal, every 5 s otherwise. */
void progress_show(struct progress *p, double pos, const char *label);
/* End the bar's line; returns the seconds since progress_begin. */
double progress_end(struct progress *p);

/* A (done, total) callback for windowed work (verify, imatrix); ctx is a struct progress. */
void progress_window(void *ctx, int64_t done, int64_t total);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif /* CLI_H */
