/* progress.c — a progress bar on a terminal, plain lines otherwise (see cli.h).
 *
 * Both show the elapsed time and, once some work is done, an estimate of the time left:
 * elapsed x (total - done) / done, which assumes the remaining steps cost what the done
 * ones did on average. A log gets one line per step from progress_step(), and from
 * progress_show() the first line after each step and then at most one every
 * PLAIN_INTERVAL_S seconds, so a long calibrated run neither floods a CI log nor stays
 * silent until its first block ends.
 */
#include "cli.h"

#include <unistd.h>

#define PLAIN_INTERVAL_S 5.0   /* seconds between plain lines from progress_show() */
#define TTY_INTERVAL_S 0.1     /* seconds between redraws of the bar */

void progress_begin(struct progress *p, int64_t total, bool quiet)
{
    p->total = total;
    p->done = 0;
    p->quiet = quiet;
    p->tty = isatty(2);
    p->t_start = cli_now();
    p->t_last = 0;
    p->shown = false;
}

/* "12.3s" or "4m05s" */
static const char *duration(double s, char *buf, size_t size)
{
    if (s < 60)
        snprintf(buf, size, "%.1fs", s);
    else if (s < 3600)
        snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    return buf;
}

/* " 12.3s, ETA 40.0s" for position pos of total */
static const char *timing(const struct progress *p, double pos, char *buf, size_t size)
{
    char a[32], b[32];
    double elapsed = cli_now() - p->t_start;
    if (pos > 0 && pos < (double)p->total)
        snprintf(buf, size, "%s, ETA %s", duration(elapsed, a, sizeof a),
                 duration(elapsed * ((double)p->total - pos) / pos, b, sizeof b));
    else
        snprintf(buf, size, "%s", duration(elapsed, a, sizeof a));
    return buf;
}

static void draw(struct progress *p, double pos, const char *label)
{
    char t[96];
    timing(p, pos, t, sizeof t);
    if (!p->tty) {
        fprintf(stderr, "[%lld/%lld] %s (%s)\n", (long long)p->done, (long long)p->total, label, t);
        return;
    }
    int width = 30, filled = p->total > 0 ? (int)(width * pos / (double)p->total) : width;
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld %-44.44s %-22s", (long long)p->done, (long long)p->total, label, t);
    fflush(stderr);
}

void progress_step(struct progress *p, const char *label)
{
    p->done++;
    if (p->quiet)
        return;
    draw(p, (double)p->done, label);
    p->t_last = cli_now();
    p->shown = false;
}

void progress_show(struct progress *p, double pos, const char *label)
{
    if (p->quiet)
        return;
    double now = cli_now();
    if (p->shown && now - p->t_last < (p->tty ? TTY_INTERVAL_S : PLAIN_INTERVAL_S))
        return;
    p->t_last = now;
    p->shown = true;
    draw(p, pos, label);
}

double progress_end(struct progress *p)
{
    if (!p->quiet && p->tty)
        fputc('\n', stderr);
    return cli_now() - p->t_start;
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
