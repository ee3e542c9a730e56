/* state.c — the batch resume state (state.h): JSON files written atomically. */
#include "state.h"

#include "../common/ig_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_PREFIX "ingot-batch.state"

struct batch_state {
    char path[4096];   /* the file this process writes */
    json_t *own;       /* {"version": 1, "jobs": {...}}: what this process writes */
    json_t *seen;      /* jobs of every state file in the folder, own ones last (they win) */
};

/* ---- atomic writes -------------------------------------------------------------------------- */

static int fsync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return ig_error_set(IG_EIO, "%s: cannot open its folder: %s", path, strerror(errno));
    fsync(fd);
    close(fd);
    return 0;
}

int batch_text_write_atomic(const char *text, const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return ig_error_set(IG_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ig_error_set(IG_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return fsync_dir_of(path);
}

int batch_json_write_atomic(const json_t *j, const char *path)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return ig_error_set(IG_ENOMEM, "%s: cannot format the JSON document", path);
    size_t n = strlen(text);
    char *with_nl = realloc(text, n + 2);
    if (!with_nl) {
        free(text);
        return ig_error_set(IG_ENOMEM, "%s: out of memory", path);
    }
    memcpy(with_nl + n, "\n", 2);
    int rc = batch_text_write_atomic(with_nl, path);
    free(with_nl);
    return rc;
}

/* ---- reading -------------------------------------------------------------------------------- */

static int load_one(json_t *seen, const char *path, json_t **doc_out)
{
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    json_t *jobs = doc ? json_object_get(doc, "jobs") : NULL;
    if (!json_is_object(jobs)) {
        json_decref(doc);
        return ig_error_set(IG_EINVAL, "%s: not an ingot batch state file (line %d: %s); delete it to start over",
                            path, err.line, doc ? "no \"jobs\" object" : err.text);
    }
    json_object_update(seen, jobs);
    if (doc_out)
        *doc_out = doc;
    else
        json_decref(doc);
    return 0;
}

int batch_state_open(struct batch_state **out, const char *dir, const char *file_name)
{
    *out = NULL;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ig_error_set(IG_EIO, "%s: cannot create the output folder: %s", dir, strerror(errno));
    struct batch_state *st = calloc(1, sizeof *st);
    if (!st)
        return ig_error_set(IG_ENOMEM, "batch state: out of memory");
    snprintf(st->path, sizeof st->path, "%s/%s", dir, file_name);
    st->seen = json_object();
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d) {
        rc = ig_error_set(IG_EIO, "%s: cannot read the folder: %s", dir, strerror(errno));
        goto out_fail;
    }
    for (struct dirent *e; (e = readdir(d)) && !rc;) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, STATE_PREFIX, strlen(STATE_PREFIX)) || n < 5 || strcmp(e->d_name + n - 5, ".json") ||
            strcmp(e->d_name, file_name) == 0)
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        rc = load_one(st->seen, p, NULL);
    }
    closedir(d);
    if (rc)
        goto out_fail;
    if (access(st->path, F_OK) == 0)
        rc = load_one(st->seen, st->path, &st->own);
    else
        st->own = json_pack("{s:i, s:{}}", "version", 1, "jobs");
    if (rc)
        goto out_fail;
    *out = st;
    return 0;
out_fail:
    batch_state_close(st);
    return rc;
}

json_t *batch_state_get(const struct batch_state *st, const char *job)
{
    return json_object_get(st->seen, job);
}

int batch_state_put(struct batch_state *st, const char *job, json_t *entry)
{
    json_object_set(st->seen, job, entry);
    json_object_set_new(json_object_get(st->own, "jobs"), job, entry);
    return batch_json_write_atomic(st->own, st->path);
}

void batch_state_close(struct batch_state *st)
{
    if (!st)
        return;
    json_decref(st->own);
    json_decref(st->seen);
    free(st);
}
