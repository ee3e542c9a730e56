/* test_util.c — paths, temp folders and a runner for the ingot binary (see test_util.h). */
#include "test_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Each helper returns a path from its own ring of buffers, large enough that a test can
 * hold every path it asks for (tests used to copy them out of a 4-slot ring shared by all
 * three helpers, which a later call overwrote). */
#define PATH_RING 32

struct path_ring {
    char buf[PATH_RING][4096];
    int next;
};

static struct path_ring shared_ring, fixture_ring, tmp_ring;

static char *next_buf(struct path_ring *r)
{
    char *b = r->buf[r->next];
    r->next = (r->next + 1) % PATH_RING;
    return b;
}

const char *test_shared_path(const char *rel)
{
    const char *data = getenv("INGOT_DATA");
    char *b = next_buf(&shared_ring);
    snprintf(b, sizeof shared_ring.buf[0], "%s/%s", data ? data : "../shared/data", rel);
    return access(b, F_OK) == 0 ? b : NULL;
}

const char *test_fixture_path(const char *rel)
{
    const char *root = getenv("INGOT_ROOT");
    char *b = next_buf(&fixture_ring);
    snprintf(b, sizeof shared_ring.buf[0], "%s/tests/data/%s", root ? root : ".", rel);
    return b;
}

const char *test_tmp_dir(void)
{
    char *b = next_buf(&tmp_ring);
    snprintf(b, sizeof tmp_ring.buf[0], "/tmp/ingot-test-XXXXXX");
    if (!mkdtemp(b))
        return NULL;
    return b;
}

/* Drain both pipes until the child closes them. */
static void drain(int fd_out, int fd_err, struct test_run *r)
{
    size_t n_out = 0, n_err = 0;
    struct pollfd p[2] = {{fd_out, POLLIN, 0}, {fd_err, POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(p, 2, -1) < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            char *dst = i == 0 ? r->out : r->err;
            size_t *n = i == 0 ? &n_out : &n_err;
            char tmp[4096];
            ssize_t k = read(p[i].fd, tmp, sizeof tmp);
            if (k <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            size_t room = sizeof r->out - 1 - *n;
            size_t take = (size_t)k < room ? (size_t)k : room;
            memcpy(dst + *n, tmp, take);
            *n += take;
            dst[*n] = '\0';
        }
    }
}

void test_run_ingot(struct test_run *r, const char *const *argv)
{
    const char *bin = getenv("INGOT_BIN");
    int po[2], pe[2];
    memset(r, 0, sizeof *r);
    r->exit_code = -1;
    if (!bin || pipe(po) != 0 || pipe(pe) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        const char *args[64];
        int n = 0;
        args[n++] = bin;
        for (int i = 0; argv[i] && n < 63; i++)
            args[n++] = argv[i];
        args[n] = NULL;
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        execv(bin, (char *const *)args);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    drain(po[0], pe[0], r);
    int status = 0;
    waitpid(pid, &status, 0);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint8_t *test_read_file(const char *path, size_t *size_bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        b[n] = 0;   /* text files are used as C strings */
    if (b && size_bytes)
        *size_bytes = (size_t)n;
    return b;
}

int test_write_file(const char *path, const void *data, size_t size_bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(data, 1, size_bytes, f);
    return fclose(f) == 0 && k == size_bytes ? 0 : -1;
}

int test_count_entries(const char *folder)
{
    DIR *d = opendir(folder);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* ---- small models to damage ---------------------------------------------------------------- */

const char *test_synth_f32_model(const char *ctx)
{
    static char dir[4][4200];
    static int next;
    char *d = dir[next++ % 4];
    snprintf(d, sizeof dir[0], "%s/m", test_tmp_dir());
    struct test_run r;
    const char *argv[] = {"synth", "-o", d, "--seed", "3", "--dim", "256", "--ff", "512", "--layers", "1",
                          "--heads", "4", "--kv-heads", "2", "--ctx", ctx, "--dtype", "f32", "--corpus-lines", "400",
                          NULL};
    test_run_ingot(&r, argv);
    cr_assert_eq(r.exit_code, 0, "synth: %s", r.err);
    return d;
}

void test_set_f32(const char *folder, const char *name, int64_t row, int64_t col0, int64_t n, float value)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", folder);
    size_t size;
    uint8_t *b = test_read_file(path, &size);
    cr_assert_not_null(b);
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    json_t *h = json_loadb((const char *)b + 8, (size_t)hlen, 0, NULL);
    cr_assert_not_null(h);
    json_t *t = json_object_get(h, name);
    cr_assert_not_null(t, "%s not in %s", name, path);
    cr_assert_str_eq(json_string_value(json_object_get(t, "dtype")), "F32");
    json_t *shape = json_object_get(t, "shape");
    int64_t cols = json_integer_value(json_array_get(shape, json_array_size(shape) - 1));
    int64_t off = json_integer_value(json_array_get(json_object_get(t, "data_offsets"), 0));
    for (int64_t j = col0; j < col0 + n; j++)
        memcpy(b + 8 + hlen + off + 4 * (row * cols + j), &value, 4);
    json_decref(h);
    cr_assert_eq(test_write_file(path, b, size), 0);
    free(b);
}

double test_json_num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert(json_is_number(v), "key %s missing or not a number", key);
    return json_number_value(v);
}

void test_expect_close(double got, double want, double rel, const char *what)
{
    cr_expect_leq(fabs(got - want), rel * fabs(want), "%s: %.6f, llama.cpp %.6f (allowed %.2f%%)", what, got, want,
                  100 * rel);
}
