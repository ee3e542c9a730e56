/* out_file.c — atomic output files (protocol in out_file.h).
 *
 * The last step of every command that writes: a temporary beside OUT, created so that
 * nothing planted there can redirect it, renamed over OUT only once complete and synced.
 * The path checks run first, so a bad OUT costs nothing instead of a whole conversion.
 */
#include "out_file.h"

#include "../common/ig_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ".tmp.<pid>.<n>": 5 + up to 10 digits + "." + up to 2 digits */
#define OUT_TMP_SUFFIX_MAX 18
#define OUT_TMP_TRIES 100

/* ---- paths ---------------------------------------------------------------------------- */

/* The folder part of path ("." when there is none), as a heap string. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const char *kind_of(mode_t m)
{
    return S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int out_check_path(const char *path, const char *const *sources, int n_sources)
{
    struct stat st, ss;
    if (!path || !path[0])
        return ig_error_set(IG_EINVAL, "output path is empty, expected a file name");
    const char *base = base_of(path);
    if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
        (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return ig_error_set(IG_EINVAL, "%s: output is a folder, expected a file name", path);
    if (strlen(base) + OUT_TMP_SUFFIX_MAX > NAME_MAX)
        return ig_error_set(IG_EINVAL, "%s: output file name has %zu bytes; with the temporary suffix '.tmp.<pid>' it must stay within NAME_MAX (%d), so at most %d",
                            path, strlen(base), NAME_MAX, NAME_MAX - OUT_TMP_SUFFIX_MAX);
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return ig_error_set(IG_EINVAL, "%s: output is %s; ingot writes a temporary file and renames it over the output, which would replace it: give a regular file's path",
                                path, kind_of(st.st_mode));
        for (int i = 0; i < n_sources; i++)
            if (sources[i] && stat(sources[i], &ss) == 0 && ss.st_dev == st.st_dev && ss.st_ino == st.st_ino)
                return ig_error_set(IG_EINVAL, "%s: output is the input file %s; writing would destroy it: choose another output path",
                                    path, sources[i]);
    }
    char *folder = folder_of(path);
    if (!folder)
        return IG_ENOMEM;
    int rc = 0;
    if (stat(folder, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = ig_error_set(IG_EINVAL, "%s: the output's folder '%s' does not exist", path, folder);
    else if (access(folder, W_OK | X_OK) != 0)
        rc = ig_error_set(IG_EINVAL, "%s: the output's folder '%s' is not writable: %s", path, folder, strerror(errno));
    free(folder);
    return rc;
}

/* ---- stale temporaries ------------------------------------------------------------------ */

/* Remove "<base>.tmp.<pid>[.<n>]" in folder whose process no longer exists: a killed run
 * (SIGKILL, power loss) leaves one behind, and nothing else would ever remove it. */
static void remove_stale(const char *path)
{
    char *folder = folder_of(path);
    DIR *d = folder ? opendir(folder) : NULL;
    const char *base = base_of(path);
    size_t n = strlen(base);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        if (strncmp(e->d_name, base, n) != 0 || strncmp(e->d_name + n, ".tmp.", 5) != 0)
            continue;
        const char *p = e->d_name + n + 5;
        char *end;
        if (*p < '0' || *p > '9')
            continue;
        long pid = strtol(p, &end, 10);
        if ((*end != '\0' && *end != '.') || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;   /* alive, or not ours to judge (EPERM): leave it */
        char *stale = malloc(strlen(folder) + strlen(e->d_name) + 2);
        if (stale) {
            sprintf(stale, "%s/%s", folder, e->d_name);
            unlink(stale);   /* unlink never follows a symlink */
            free(stale);
        }
    }
    if (d)
        closedir(d);
    free(folder);
}

int out_file_write(struct out_file *f, const void *p, size_t n_bytes)
{
    const char *c = p;
    while (n_bytes) {
        ssize_t k = write(f->fd, c, n_bytes);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return ig_error_set(IG_EIO, "%s: write failed: %s", f->tmp_path, k < 0 ? strerror(errno) : "no progress");
        c += k;
        n_bytes -= (size_t)k;
    }
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

int out_file_open(struct out_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int rc = out_check_path(path, NULL, 0);
    if (rc)
        return rc;
    remove_stale(path);
    size_t size = strlen(path) + OUT_TMP_SUFFIX_MAX + 8;
    f->path = strdup(path);
    f->tmp_path = ig_malloc(size);
    if (!f->path || !f->tmp_path) {
        out_file_abort(f);
        return IG_ENOMEM;
    }
    /* O_EXCL: never reuse a file someone else made; O_NOFOLLOW: never write through a link */
    for (int k = 0; k < OUT_TMP_TRIES && f->fd < 0; k++) {
        if (k == 0)
            snprintf(f->tmp_path, size, "%s.tmp.%ld", path, (long)getpid());
        else
            snprintf(f->tmp_path, size, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        f->fd = open(f->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->fd < 0 && errno != EEXIST)
            break;
    }
    if (f->fd < 0) {
        rc = ig_error_set(IG_EIO, "%s: cannot create the temporary file %s: %s", path, f->tmp_path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;   /* not ours: never remove it */
        out_file_abort(f);
        return rc;
    }
    return 0;
}

static int fsync_folder(const char *path)
{
    char *folder = folder_of(path);
    if (!folder)
        return IG_ENOMEM;
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd >= 0) {
        if (fsync(fd) != 0 && errno != EINVAL)
            rc = ig_error_set(IG_EIO, "%s: fsync of the folder failed: %s", path, strerror(errno));
        close(fd);
    }
    free(folder);
    return rc;
}

int out_file_commit(struct out_file *f)
{
    int rc = 0;
    if (f->fd >= 0) {
        if (fsync(f->fd) != 0)
            rc = ig_error_set(IG_EIO, "%s: fsync failed: %s", f->tmp_path, strerror(errno));
        if (close(f->fd) != 0 && !rc)
            rc = ig_error_set(IG_EIO, "%s: close failed: %s", f->tmp_path, strerror(errno));
        f->fd = -1;
    }
    if (!rc && rename(f->tmp_path, f->path) != 0)
        rc = ig_error_set(IG_EIO, "%s: cannot rename %s over it: %s", f->path, f->tmp_path, strerror(errno));
    if (rc) {
        out_file_abort(f);
        return rc;
    }
    free(f->tmp_path);
    f->tmp_path = NULL;
    rc = fsync_folder(f->path);
    out_file_abort(f);   /* frees path; nothing left to remove */
    return rc;
}

void out_file_abort(struct out_file *f)
{
    if (f->path && f->fd >= 0)   /* a zeroed f has fd 0, which is not ours */
        close(f->fd);
    f->fd = -1;
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->path);
    f->tmp_path = NULL;
    f->path = NULL;
}
