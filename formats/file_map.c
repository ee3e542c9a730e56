/* file_map.c — mmap of source files and bounded whole-file reads. */
#include "file_map.h"

#include "../common/ig_error.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- mappings ---------------------------------------------------------------------- */

/* Every live mapping, so file_map_drop_pages only ever touches pages of a file mapping. */
struct map_range {
    const uint8_t *data;
    size_t size_bytes;
};
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct map_range *maps;   /* [n_maps] */
static size_t n_maps, cap_maps;

static int maps_add(const uint8_t *data, size_t size_bytes)
{
    int rc = 0;
    pthread_mutex_lock(&maps_lock);
    if (n_maps == cap_maps) {
        size_t cap = cap_maps ? 2 * cap_maps : 16;
        struct map_range *m = realloc(maps, cap * sizeof *m);
        if (m) {
            maps = m;
            cap_maps = cap;
        }
    }
    if (n_maps < cap_maps)
        maps[n_maps++] = (struct map_range){data, size_bytes};
    else
        rc = IG_ENOMEM;
    pthread_mutex_unlock(&maps_lock);
    return rc;
}

static void maps_remove(const uint8_t *data)
{
    pthread_mutex_lock(&maps_lock);
    for (size_t i = 0; i < n_maps; i++)
        if (maps[i].data == data) {
            maps[i] = maps[--n_maps];
            break;
        }
    pthread_mutex_unlock(&maps_lock);
}

void file_map_drop_pages(const void *p, size_t n_bytes)
{
    static int keep = -1;
    if (keep < 0) {
        const char *e = getenv("INGOT_KEEP_PAGES");
        keep = e && *e && strcmp(e, "0") != 0;
    }
    if (keep || !p || n_bytes == 0)
        return;
    const uintptr_t a = (uintptr_t)p, b = a + n_bytes;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    pthread_mutex_lock(&maps_lock);
    for (size_t i = 0; i < n_maps; i++) {
        const uintptr_t m0 = (uintptr_t)maps[i].data, m1 = m0 + maps[i].size_bytes;
        if (a < m0 || b > m1)
            continue;
        /* mmap returns page-aligned addresses and maps whole pages, so the rounded range stays
         * inside the mapping */
        const uintptr_t lo = a & ~(page - 1), hi = (b + page - 1) & ~(page - 1);
        madvise((void *)lo, hi - lo, MADV_DONTNEED);   /* advice: a failure costs memory, not data */
        break;
    }
    pthread_mutex_unlock(&maps_lock);
}

int file_map_open(struct file_map *map, const char *path)
{
    struct stat st;
    int rc = IG_OK;
    memset(map, 0, sizeof *map);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ig_error_set(errno == ENOENT ? IG_EINVAL : IG_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = ig_error_set(IG_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ig_error_set(IG_EINVAL, "%s: not a regular file", path);
        goto out_close;
    }
    map->path = strdup(path);
    if (!map->path) {
        rc = ig_error_set(IG_ENOMEM, "%s: out of memory", path);
        goto out_close;
    }
    map->size_bytes = (size_t)st.st_size;
    if (map->size_bytes > 0) {
        void *p = mmap(NULL, map->size_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rc = ig_error_set(IG_EIO, "%s: cannot map %zu bytes: %s", path, map->size_bytes, strerror(errno));
            free(map->path);
            memset(map, 0, sizeof *map);
            goto out_close;
        }
        map->data = p;
        if (maps_add(map->data, map->size_bytes)) {
            rc = ig_error_set(IG_ENOMEM, "%s: out of memory", path);
            munmap(p, map->size_bytes);
            free(map->path);
            memset(map, 0, sizeof *map);
        }
    }
out_close:
    close(fd);
    return rc;
}

void file_map_close(struct file_map *map)
{
    if (!map)
        return;
    if (map->data) {
        maps_remove(map->data);
        munmap((void *)map->data, map->size_bytes);
    }
    free(map->path);
    memset(map, 0, sizeof *map);
}

/* ---- small files ------------------------------------------------------------------- */

char *file_read_all(const char *path, size_t max_bytes, size_t *size_bytes)
{
    struct stat st;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        ig_error_set(errno == ENOENT ? IG_EINVAL : IG_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        ig_error_set(IG_EINVAL, "%s: not a regular file", path);
        goto out_close;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        ig_error_set(IG_EINVAL, "%s: %lld bytes, larger than the %zu allowed for this kind of file",
                     path, (long long)st.st_size, max_bytes);
        goto out_close;
    }
    buf = ig_malloc((size_t)st.st_size + 1);
    if (!buf)
        goto out_close;
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size) {
        ig_error_set(IG_EIO, "%s: short read (%zu of %lld bytes)", path, n, (long long)st.st_size);
        free(buf);
        buf = NULL;
        goto out_close;
    }
    buf[n] = '\0';
    if (size_bytes)
        *size_bytes = n;
out_close:
    fclose(f);
    return buf;
}

char *file_path_join(const char *folder, const char *name)
{
    size_t a = strlen(folder), b = strlen(name);
    char *p = ig_malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, folder, a);
    size_t k = a;
    if (a > 0 && folder[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int file_is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int file_is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
