/* Unit tests for cli/interrupt: signals raised at the process are caught, counted and make the
 * pipe readable; draining and uninstalling behave as the header says; the old dispositions come
 * back. */
#include "interrupt.h"
#include "tap.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void (*handler_of(int sig))(int)
{
    struct sigaction sa;
    sigaction(sig, NULL, &sa);
    return sa.sa_handler;
}

static void on_usr(int sig)
{
    (void)sig;
}

int main(void)
{
    plan(20);
    is_int(spate_interrupt_fd(), -1, "no fd before install");
    signal(SIGTERM, on_usr);                         /* a disposition to be restored */
    void (*sigint_before)(int) = handler_of(SIGINT); /* SIG_IGN when run in the background */
    is_int(spate_interrupt_install(), 0, "install");
    is_int(spate_interrupt_install(), -EBUSY, "a second install is refused with -EBUSY");
    int fd = spate_interrupt_fd();
    ok(fd >= 0, "an fd after install (%d)", fd);
    ok(!readable(fd), "not readable before a signal");
    is_int(spate_interrupt_signal(), 0, "no signal yet");
    is_int(spate_interrupt_exit_status(), 0, "exit status 0 with no signal");

    raise(SIGINT); /* delivered before raise returns (one thread, not blocked) */
    ok(readable(fd), "readable after SIGINT");
    is_int(spate_interrupt_signal(), SIGINT, "the first signal is SIGINT");
    is_int((long long)spate_interrupt_count(), 1, "one signal counted");
    is_int(spate_interrupt_exit_status(), 130, "exit status 130");

    spate_interrupt_drain();
    ok(!readable(fd), "drained: not readable");
    raise(SIGTERM);
    ok(readable(fd), "readable again after SIGTERM");
    is_int(spate_interrupt_signal(), SIGINT, "the first signal stays SIGINT");
    is_int((long long)spate_interrupt_count(), 2, "two signals counted");

    spate_interrupt_uninstall();
    is_int(spate_interrupt_fd(), -1, "no fd after uninstall");
    is_int(spate_interrupt_signal(), 0, "the signals are forgotten");
    ok(handler_of(SIGTERM) == on_usr, "SIGTERM's earlier handler is back");
    ok(handler_of(SIGINT) == sigint_before, "SIGINT's earlier disposition is back");

    is_int(spate_interrupt_install(), 0, "installs again after uninstall");
    spate_interrupt_uninstall();
    return done();
}
