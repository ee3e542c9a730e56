/* test_out_file.c — atomic outputs: the path checks made before any work, the temporary
 * file's creation (O_EXCL|O_NOFOLLOW, stale ones removed), the signal handlers that remove
 * it, and the commands that must refuse an output that is one of their inputs.
 */
#include "../test_util.h"

#include "common/ig_error.h"
#include "formats/out_file.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void expect_bad_out(const char *path, const char *needle)
{
    cr_expect_eq(out_check_path(path, NULL, 0), IG_EINVAL, "'%s' was accepted", path);
    cr_expect(strstr(ig_error_message(), needle), "'%s': message lacks '%s': %s", path, needle, ig_error_message());
}

Test(out_file, check_refuses_empty_folder_device_and_too_long_names)
{
    const char *dir = test_tmp_dir();
    char p[4200], longname[NAME_MAX + 16];
    expect_bad_out("", "empty");
    expect_bad_out(".", "is a folder");
    expect_bad_out(dir, "is a folder");
    snprintf(p, sizeof p, "%s/", dir);
    expect_bad_out(p, "is a folder");
    expect_bad_out("/dev/null", "character device");
    snprintf(p, sizeof p, "%s/fifo", dir);
    cr_assert_eq(mkfifo(p, 0600), 0);
    expect_bad_out(p, "a FIFO");
    memset(longname, 'n', 250);
    longname[250] = '\0';
    snprintf(p, sizeof p, "%s/%s", dir, longname);
    expect_bad_out(p, "NAME_MAX");
    expect_bad_out("/nonexistent/ingot/out.gguf", "does not exist");
    snprintf(p, sizeof p, "%s/ok.gguf", dir);
    cr_expect_eq(out_check_path(p, NULL, 0), 0, "%s", ig_error_message());
}

Test(out_file, check_refuses_an_output_that_is_an_input_or_its_hard_link)
{
    const char *dir = test_tmp_dir();
    char src[4200], hard[4200];
    snprintf(src, sizeof src, "%s/model.gguf", dir);
    snprintf(hard, sizeof hard, "%s/other-name.gguf", dir);
    cr_assert_eq(test_write_file(src, "data", 4), 0);
    cr_assert_eq(link(src, hard), 0);
    const char *sources[] = {NULL, src};
    cr_expect_eq(out_check_path(src, sources, 2), IG_EINVAL);
    cr_expect(strstr(ig_error_message(), "is the input file"), "%s", ig_error_message());
    cr_expect_eq(out_check_path(hard, sources, 2), IG_EINVAL, "same inode under another name");
}

Test(out_file, a_planted_symlink_is_neither_followed_nor_reused)
{
    const char *dir = test_tmp_dir();
    char out[4200], tmp[4300], victim[4200];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    cr_assert_eq(test_write_file(victim, "keep", 4), 0);
    cr_assert_eq(symlink(victim, tmp), 0);
    struct out_file f;
    cr_assert_eq(out_file_open(&f, out), 0, "%s", ig_error_message());
    cr_expect_str_neq(f.tmp_path, tmp, "a fresh name, not the planted one");
    cr_assert_eq(write(f.fd, "new!", 4), 4);
    cr_assert_eq(out_file_commit(&f), 0, "%s", ig_error_message());
    size_t n;
    char *v = (char *)test_read_file(victim, &n);
    cr_expect(v && n == 4 && memcmp(v, "keep", 4) == 0, "the symlink's target was written");
    free(v);
    v = (char *)test_read_file(out, &n);
    cr_expect(v && n == 4 && memcmp(v, "new!", 4) == 0);
    free(v);
    struct stat st;
    cr_expect_eq(lstat(tmp, &st), 0, "a pid that is alive (ours) is never cleaned");
}

Test(out_file, stale_temporaries_of_dead_processes_are_removed)
{
    const char *dir = test_tmp_dir();
    char out[4200], stale[4300], alive[4300], other[4300];
    snprintf(out, sizeof out, "%s/m.gguf", dir);
    /* a pid that cannot exist: above any pid_max (4194304 at most on Linux) */
    snprintf(stale, sizeof stale, "%s.tmp.%ld", out, 2147483000L);
    snprintf(alive, sizeof alive, "%s.tmp.1", out);
    snprintf(other, sizeof other, "%s/m.gguf.tmp.x", dir);
    cr_assert_eq(test_write_file(stale, "x", 1), 0);
    cr_assert_eq(test_write_file(alive, "x", 1), 0);
    cr_assert_eq(test_write_file(other, "x", 1), 0);
    struct out_file f;
    cr_assert_eq(out_file_open(&f, out), 0, "%s", ig_error_message());
    out_file_abort(&f);
    struct stat st;
    cr_expect_neq(stat(stale, &st), 0, "the dead process's temporary is gone");
    cr_expect_eq(stat(alive, &st), 0, "pid 1 is alive: kept");
    cr_expect_eq(stat(other, &st), 0, "not a temporary name: kept");
    cr_expect_eq(stat(out, &st) != 0, 1, "abort leaves nothing at OUT");
}

/* Run `ingot convert SRC -o OUT --type F16 -q` in a child with SIGHUP ignored (as nohup
 * leaves it) and a file size limit of fsize_bytes (0: none), with stderr into err_path;
 * with hup_storm, send it SIGHUP every 200 µs until it ends. Returns the wait status. */
static int run_convert_child(const char *src, const char *out, long fsize_bytes, bool hup_storm, const char *err_path)
{
    const char *bin = getenv("INGOT_BIN");
    cr_assert(bin, "INGOT_BIN is not set");
    int ready[2];   /* closed by exec: the child ignores SIGHUP before any is sent */
    cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        signal(SIGHUP, SIG_IGN);
        if (fsize_bytes > 0) {
            struct rlimit rl = {(rlim_t)fsize_bytes, (rlim_t)fsize_bytes};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        if (!freopen(err_path, "w", stderr))
            _exit(99);
        execl(bin, bin, "convert", src, "-o", out, "--type", "F16", "-q", (char *)NULL);
        _exit(98);
    }
    close(ready[1]);
    char c;
    while (read(ready[0], &c, 1) > 0)
        ;
    close(ready[0]);
    int status = 0;
    pid_t done = 0;
    while (hup_storm && (done = waitpid(pid, &status, WNOHANG)) == 0) {
        kill(pid, SIGHUP);
        usleep(200);
    }
    if (done != pid)
        waitpid(pid, &status, 0);
    return status;
}

Test(out_file, nohup_convert_survives_hangups_while_writing)
{
    const char *src = test_shared_path("tl3m");
    if (!src)
        cr_skip_test("../shared/data is missing");
    char out[4200], err[4200];
    snprintf(out, sizeof out, "%s/out.gguf", test_tmp_dir());
    snprintf(err, sizeof err, "%s/err.txt", test_tmp_dir());
    int status = run_convert_child(src, out, 0, true, err);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x: killed by a hangup it was told to ignore",
              status);
    struct stat st;
    cr_expect_eq(stat(out, &st), 0, "the output was written");
}

Test(out_file, file_size_limit_while_writing_removes_the_temporary_and_says_why)
{
    const char *src = test_shared_path("tl3m");
    if (!src)
        cr_skip_test("../shared/data is missing");
    const char *dir = test_tmp_dir();   /* a fresh folder per call: OUT's alone in it */
    char out[4200], err[4200];
    snprintf(out, sizeof out, "%s/out.gguf", dir);
    snprintf(err, sizeof err, "%s/err.txt", test_tmp_dir());
    int status = run_convert_child(src, out, 64 << 10, false, err);
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ, "status %#x, expected death by SIGXFSZ", status);
    char *msg = (char *)test_read_file(err, NULL);
    cr_expect(msg && strstr(msg, "SIGXFSZ") && strstr(msg, "removed the partial output"), "stderr: %s", msg);
    free(msg);
    cr_expect_eq(test_count_entries(dir), 0, "no output, no temporary left");
}

Test(out_file, convert_onto_its_own_source_refuses_and_keeps_it)
{
    const char *p = test_shared_path("gguf-stories260K/stories260K.gguf");
    if (!p)
        cr_skip_test("../shared/data is missing");
    size_t n0, n1;
    uint8_t *orig = test_read_file(p, &n0);
    cr_assert_not_null(orig);
    const char *dir = test_tmp_dir();   /* a fresh folder per call */
    char copy[4200];
    snprintf(copy, sizeof copy, "%s/m.gguf", dir);
    cr_assert_eq(test_write_file(copy, orig, n0), 0);
    struct test_run r;
    const char *argv[] = {"convert", copy, "-o", copy, "--type", "F16", "-q", NULL};
    test_run_ingot(&r, argv);
    cr_expect_eq(r.exit_code, 2, "exit %d: %s", r.exit_code, r.err);
    cr_expect(strstr(r.err, "is the input file"), "%s", r.err);
    uint8_t *after = test_read_file(copy, &n1);
    cr_expect(after && n1 == n0 && memcmp(after, orig, n0) == 0, "the source was damaged");
    cr_expect_eq(test_count_entries(dir), 1, "no temporary left");
    free(orig);
    free(after);
}

Test(out_file, imatrix_output_checked_before_the_work_and_written_atomically)
{
    const char *dir = test_tmp_dir();
    char calib[4200], out[4200];
    snprintf(calib, sizeof calib, "%s/calib.txt", dir);
    const char *text = "hello there, the cat sat on the mat. ";
    cr_assert_eq(test_write_file(calib, text, strlen(text)), 0);
    struct test_run r;
    const char *to_dir[] = {"imatrix", test_fixture_path("tiny-llama"), "--calib", calib, "-o", dir, NULL};
    test_run_ingot(&r, to_dir);
    cr_expect_eq(r.exit_code, 2, "-o FOLDER: exit %d: %s", r.exit_code, r.err);
    cr_expect(strstr(r.err, "is a folder"), "%s", r.err);
    const char *onto_calib[] = {"imatrix", test_fixture_path("tiny-llama"), "--calib", calib, "-o", calib, NULL};
    test_run_ingot(&r, onto_calib);
    cr_expect_eq(r.exit_code, 2, "-o CALIB: exit %d: %s", r.exit_code, r.err);
    cr_expect(strstr(r.err, "is the input file"), "%s", r.err);
    snprintf(out, sizeof out, "%s/m.dat", dir);
    const char *dat[] = {"imatrix", test_fixture_path("tiny-llama"), "--calib", calib, "-o", out, "--ctx", "8", NULL};
    test_run_ingot(&r, dat);
    cr_expect_eq(r.exit_code, 0, "exit %d: %s", r.exit_code, r.err);
    cr_expect_eq(test_count_entries(dir), 2, "calib.txt and m.dat, no temporary");
}
