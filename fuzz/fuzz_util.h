/* fuzz_util.h — what the file-based libFuzzer harnesses share (fuzz/ only).
 *
 * Readers that take a path (a folder, a file beside another, a name that picks the format)
 * get their inputs through one private temporary folder per process: made on first use
 * under $TMPDIR (else /dev/shm, else /tmp), emptied before each input, removed at exit
 * (and, after a crash, by the next run of the same harness).
 * Everything here is static inline so each harness stays one translation unit; the helpers
 * return 0 or -1 and never abort (a harness skips an input it could not write).
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PATH_MAX 4096

static char fuzz_dir_path[FUZZ_PATH_MAX];   /* "" until fuzz_dir() made it */

/* Remove every entry of folder (files, and folders up to two levels down; a symbolic link
 * is removed, never followed), keeping folder itself. */
static inline void fuzz_dir_empty_at(const char *folder, int depth)
{
    DIR *d = opendir(folder);
    struct dirent *e;
    char path[FUZZ_PATH_MAX];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        if (unlink(path) != 0 && depth < 2) {
            fuzz_dir_empty_at(path, depth + 1);
            rmdir(path);
        }
    }
    closedir(d);
}

static inline void fuzz_dir_remove(void)
{
    if (!fuzz_dir_path[0])
        return;
    fuzz_dir_empty_at(fuzz_dir_path, 0);
    rmdir(fuzz_dir_path);
    fuzz_dir_path[0] = '\0';
}

/* A crash ends the process without atexit handlers, leaving its folder behind: remove the
 * folders "<harness>-<pid>-XXXXXX" in base whose process no longer exists. */
static inline void fuzz_dir_remove_stale(const char *base, const char *harness)
{
    DIR *d = opendir(base);
    struct dirent *e;
    char path[FUZZ_PATH_MAX];
    size_t n = strlen(harness);
    if (!d)
        return;
    while ((e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, harness, n) != 0 || e->d_name[n] != '-')
            continue;
        long pid = strtol(e->d_name + n + 1, &end, 10);
        if (pid <= 0 || *end != '-' || strlen(end) != 7 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        fuzz_dir_empty_at(path, 0);
        rmdir(path);
    }
    closedir(d);
}

/* The process's private folder, emptied; NULL if it cannot be made. */
static inline const char *fuzz_dir(const char *harness)
{
    if (fuzz_dir_path[0]) {
        fuzz_dir_empty_at(fuzz_dir_path, 0);
        return fuzz_dir_path;
    }
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (!base || !base[0])
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                                                                                                    : "/tmp";
    fuzz_dir_remove_stale(base, harness);
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/%s-%ld-XXXXXX", base, harness, (long)getpid());
    if (!mkdtemp(fuzz_dir_path)) {
        fuzz_dir_path[0] = '\0';
        return NULL;
    }
    atexit(fuzz_dir_remove);
    return fuzz_dir_path;
}

/* Write size bytes to folder/name, creating or truncating it. */
static inline int fuzz_write_file(const char *folder, const char *name, const uint8_t *data, size_t size)
{
    char path[FUZZ_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", folder, name) >= sizeof path)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && k == size ? 0 : -1;
}

/* Split data at the first NUL: *first is the part before it; returns the rest (after the
 * NUL) with its length in *rest_size, or NULL when there is no NUL. */
static inline const uint8_t *fuzz_split(const uint8_t *data, size_t size, size_t *first, size_t *rest_size)
{
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    *first = nul ? (size_t)(nul - data) : size;
    *rest_size = nul ? size - *first - 1 : 0;
    return nul ? nul + 1 : NULL;
}

/* Path of a fixture of this checkout (relative to its root, e.g. "tests/data/x") into buf:
 * the root is $INGOT_ROOT when set, else INGOT_ROOT as the Makefile compiled it in (the
 * checkout's absolute path), else the current folder. So a harness runs from any folder. */
#ifndef INGOT_ROOT
#define INGOT_ROOT "."
#endif
static inline const char *fuzz_data_path(char *buf, size_t size, const char *relative)
{
    const char *root = getenv("INGOT_ROOT");
    snprintf(buf, size, "%s/%s", root && root[0] ? root : INGOT_ROOT, relative);
    return buf;
}

/* With FUZZ_VERBOSE=1 in the environment, say what a reader returned: for checking that
 * the seeds are accepted: FUZZ_VERBOSE=1 build/fuzz/NAME tests/data/fuzz-seeds/NAME/FILE... */
static inline void fuzz_note(const char *harness, const char *what, int rc, const char *message)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") && getenv("FUZZ_VERBOSE")[0] == '1';
    if (verbose)
        fprintf(stderr, "%s: %s: %s%s%s\n", harness, what, rc ? "refused: " : "accepted",
                rc ? message : "", "");
}

/* Read every byte of a borrowed view, so a view that leaves its mapping faults here. */
static volatile uint8_t fuzz_sink;

static inline void fuzz_touch(const uint8_t *p, uint64_t n)
{
    uint8_t x = 0;
    for (uint64_t i = 0; i < n; i++)
        x ^= p[i];
    fuzz_sink ^= x;
}

#endif /* FUZZ_UTIL_H */
