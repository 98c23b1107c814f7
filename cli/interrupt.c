/* SIGINT/SIGTERM to a self-pipe: the handler does only async-signal-safe work (two stores and a
 * write); everything else reads the recorded state from the main flow. */
#include "interrupt.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int caught[] = {SIGINT, SIGTERM};
#define NCAUGHT (sizeof(caught) / sizeof(caught[0]))

static int pipefd[2] = {-1, -1};
static struct sigaction saved[NCAUGHT];
static volatile sig_atomic_t first_sig;
static volatile sig_atomic_t nsigs;

static void on_signal(int sig)
{
    int saved_errno = errno; /* the interrupted code may be about to read errno */
    if (!first_sig) first_sig = sig;
    nsigs++;
    ssize_t n = write(pipefd[1], "", 1); /* a full pipe is already readable: EAGAIN is fine */
    (void)n;
    errno = saved_errno;
}

static void close_pipe(void);

/* pipe + fcntl rather than pipe2, which macOS lacks */
static int make_pipe(void)
{
    if (pipe(pipefd)) {
        pipefd[0] = pipefd[1] = -1;
        return -errno;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(pipefd[i], F_GETFL);
        if (fl < 0 || fcntl(pipefd[i], F_SETFL, fl | O_NONBLOCK) ||
            fcntl(pipefd[i], F_SETFD, FD_CLOEXEC)) {
            int rc = -errno;
            close_pipe();
            return rc;
        }
    }
    return 0;
}

static void close_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (pipefd[i] >= 0) close(pipefd[i]);
        pipefd[i] = -1;
    }
}

int spate_interrupt_install(void)
{
    if (pipefd[0] >= 0) return -EBUSY;
    int rc = make_pipe();
    if (rc) return rc;
    first_sig = 0;
    nsigs = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NCAUGHT; i++)
        sigaddset(&sa.sa_mask, caught[i]);
    for (size_t i = 0; i < NCAUGHT; i++) {
        if (sigaction(caught[i], &sa, &saved[i]) == 0) continue;
        rc = -errno;
        while (i-- > 0)
            sigaction(caught[i], &saved[i], NULL);
        close_pipe();
        return rc;
    }
    return 0;
}

void spate_interrupt_uninstall(void)
{
    if (pipefd[0] < 0) return;
    for (size_t i = 0; i < NCAUGHT; i++)
        sigaction(caught[i], &saved[i], NULL);
    close_pipe();
    first_sig = 0;
    nsigs = 0;
}

int spate_interrupt_fd(void)
{
    return pipefd[0];
}

void spate_interrupt_drain(void)
{
    char b[64];
    if (pipefd[0] < 0) return;
    while (read(pipefd[0], b, sizeof(b)) > 0) {
    }
}

int spate_interrupt_signal(void)
{
    return first_sig;
}

unsigned spate_interrupt_count(void)
{
    return (unsigned)nsigs;
}

int spate_interrupt_exit_status(void)
{
    return first_sig ? 128 + first_sig : 0;
}
