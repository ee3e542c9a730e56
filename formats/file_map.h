/* file_map.h — read-only memory mappings of source files, and small whole-file reads.
 *
 * Every reader in formats/ works on a mapping: tensors are views into it, so a 70B source
 * is never loaded whole. A mapping outlives every view taken from it.
 */
#ifndef FILE_MAP_H
#define FILE_MAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct file_map {
    char *path;            /* owned copy of the path, for messages */
    const uint8_t *data;   /* [size_bytes], read-only; NULL when size_bytes == 0 */
    size_t size_bytes;
};

/* Map path read-only into *map. Returns 0, IG_EINVAL if the file is missing or not a
 * regular file, or IG_EIO if it cannot be read or mapped. */
int file_map_open(struct file_map *map, const char *path);

/* Unmap and free. Accepts a zeroed or already-closed map. */
void file_map_close(struct file_map *map);

/* Give the pages of [p, p + n_bytes) back to the system (madvise MADV_DONTNEED on the whole
 * pages that hold it) when that range lies inside a mapping made by file_map_open; does nothing
 * otherwise (a heap buffer would lose its contents). A read-only file mapping loses nothing: a
 * page touched again is read again from the page cache. So a reader that walks a 14 GB file one
 * block at a time is not charged the whole file as resident memory. Environment variable
 * INGOT_KEEP_PAGES=1 turns it off (to measure what it saves). Thread-safe. */
void file_map_drop_pages(const void *p, size_t n_bytes);

/* Read a whole (small) file into a NUL-terminated heap buffer of at most max_bytes.
 * Returns the buffer (caller frees) and sets *size_bytes, or NULL with the error set. */
char *file_read_all(const char *path, size_t max_bytes, size_t *size_bytes);

/* Join folder and name into a heap string (caller frees), or NULL. */
char *file_path_join(const char *folder, const char *name);

/* True when path names an existing regular file / folder. */
int file_is_regular(const char *path);
int file_is_folder(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* FILE_MAP_H */
