/* out_file.h — writing an output file atomically, and checking its path before any work.
 *
 * Every file ingot writes (a GGUF container, an imatrix in either format) goes through here:
 *   1. out_check_path(OUT, sources) before reading or computing anything: OUT must not be
 *      empty, a folder, a device, a FIFO or a socket, must leave room in NAME_MAX for the
 *      temporary name, its folder must exist and be writable, and OUT must not be (the same
 *      inode as) any source file, which the rename would destroy.
 *   2. out_file_open(OUT): removes stale temporaries "OUT.tmp.<pid>" whose process is gone,
 *      then creates "OUT.tmp.<pid>" (".<n>" appended if it exists) with
 *      O_CREAT|O_EXCL|O_NOFOLLOW, so a planted file or symlink is never followed or reused.
 *   3. writes to the descriptor (or a FILE* over it);
 *   4. out_file_commit(): fsync, rename over OUT, fsync the folder. out_file_abort()
 *      removes the temporary; OUT is then untouched.
 * Devices and FIFOs as OUT are refused (rename would replace /dev/null with a regular file
 * when run as root); write to a regular file and copy it instead.
 */
#ifndef OUT_FILE_H
#define OUT_FILE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct out_file {
    char *path;       /* owned: OUT */
    char *tmp_path;   /* owned: the temporary being written, NULL once renamed or removed */
    int fd;           /* -1 when closed */
};

/* Check OUT before any work. sources: n_sources paths that are read (NULL entries are
 * skipped). Returns 0, or IG_EINVAL naming OUT and what is wrong with it. */
int out_check_path(const char *path, const char *const *sources, int n_sources);

/* Create the temporary for path (see 2. above). Returns 0, IG_EINVAL or IG_EIO. */
int out_file_open(struct out_file *f, const char *path);

/* Append n_bytes from p to the temporary, through short writes and EINTR. Returns 0 or IG_EIO
 * naming the temporary (the caller aborts). */
int out_file_write(struct out_file *f, const void *p, size_t n_bytes);

/* fsync and close the descriptor (if open), rename over OUT, fsync the folder. Frees f's
 * strings. On failure the temporary is removed. Returns 0 or IG_EIO. */
int out_file_commit(struct out_file *f);

/* Close and remove the temporary; accepts a zeroed or committed f. */
void out_file_abort(struct out_file *f);

#ifdef __cplusplus
}
#endif

#endif /* OUT_FILE_H */
