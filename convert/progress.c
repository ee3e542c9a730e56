/* progress.c — a progress bar on a terminal, plain lines otherwise. */
#include "cli.h"

#include <unistd.h>

void progress_begin(struct progress *p, int64_t total, bool quiet)
{
    p->total = total;
    p->done = 0;
    p->quiet = quiet;
    p->tty = isatty(2);
    p->t_start = cli_now();
}

void progress_step(struct progress *p, const char *label)
{
    p->done++;
    if (p->quiet)
        return;
    if (!p->tty) {
        fprintf(stderr, "[%lld/%lld] %s\n", (long long)p->done, (long long)p->total, label);
        return;
    }
    int width = 30, filled = p->total ? (int)(width * p->done / p->total) : width;
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld %-44.44s %6.1fs", (long long)p->done, (long long)p->total, label,
            cli_now() - p->t_start);
    fflush(stderr);
}

void progress_end(struct progress *p)
{
    if (!p->quiet && p->tty)
        fputc('\n', stderr);
}

void progress_window(void *ctx, int64_t done, int64_t total)
{
    struct progress *p = ctx;
    char label[64];
    snprintf(label, sizeof label, "window %lld of %lld", (long long)done, (long long)total);
    /* on a terminal every window; in a log one line per 50 and the last */
    if (p->tty || done == total || done % 50 == 0)
        progress_step(p, label);
    else
        p->done++;
}
