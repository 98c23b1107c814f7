/* Worker processes for `spate bench --procs N`: forks N workers, each talking to the parent over
 * its own socket in lines; holds them at a barrier until every live one has its connections up,
 * then gives all one start instant; forwards SIGINT/SIGTERM to them; and never waits on a worker
 * that died (its socket's end of file and waitpid say so).
 *
 * The lines, each ending in '\n':
 *   worker -> parent  "ready"             set-up is over (every connection up or failed)
 *                     anything else       passed to the parent's `line` callback (the report)
 *   parent -> worker  "start T"           the measured period starts at T (Unix seconds)
 * A worker waiting for "start" that sees end of file (the parent is gone) or a signal gives up. */
#ifndef SPATE_PROCS_H
#define SPATE_PROCS_H
#include <stddef.h>
#include <sys/types.h>

struct spate_procs_ops {
    /* In worker w's process, after fork: runs the worker, which talks over fd (owned by the
     * worker: close it when done), and returns its exit status. SIGINT and SIGTERM are blocked
     * on entry: unblock them with spate_procs_unblock once a handler is installed. */
    int (*child)(void *user, unsigned w, int fd);
    /* In the parent: one line from worker w, without its '\n'. */
    void (*line)(void *user, unsigned w, const char *line, size_t len);
    /* In the parent: worker w has ended (its socket closed and the process reaped); status is
     * waitpid's, or -1 when it could not be started (errno_ in err). */
    void (*ended)(void *user, unsigned w, pid_t pid, int status, int err);
};

/* Runs n workers. In the parent: returns 0 once every worker has ended, or -errno when the
 * barrier could not work at all (no worker is then left running). In a worker: returns 0 with
 * out->is_child set and out->child_rc holding what ops->child returned; the caller returns from
 * main with it (so its memory is freed as usual). start_at (Unix seconds, 0 = none) is the start
 * given to the workers, else the instant when the last of them is ready plus a margin. pin puts
 * worker i on the i-th CPU this process may run on (modulo their number). The parent installs
 * the interrupt handler (cli/interrupt) for the time it runs and forwards each signal to the
 * live workers. */
struct spate_procs_out {
    int is_child; /* set in a worker's process */
    int child_rc; /* there: what ops->child returned */
    double start; /* in the parent: the start given to the workers, 0 if none got that far */
    int sig;      /* in the parent: the first SIGINT or SIGTERM it caught (and forwarded), or 0 */
};
int spate_procs_run(unsigned n, int pin, double start_at, const struct spate_procs_ops *ops,
                    void *user, struct spate_procs_out *out);

/* In a worker: unblocks SIGINT and SIGTERM (blocked across fork so that no signal arrives before
 * the worker's handler is installed). */
void spate_procs_unblock(void);

/* In a worker: tells the parent that set-up is over and waits for the start instant (also
 * watching stop_fd, the worker's interrupt pipe, -1 = none). Returns the start (Unix seconds), or
 * -1 when the parent is gone or a signal came first. */
double spate_procs_ready(int fd, int stop_fd);

/* In a worker: writes the whole of buf[0..len) to fd (a line for the parent). 0 or -errno. */
int spate_procs_send(int fd, const char *buf, size_t len);

#endif
