/* Interrupt flags: async-signal-safe writes only (two sig_atomic_t). */
#include "signals.h"
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t first, count;

static void on_signal(int sig)
{
    if (!first) first = sig;
    if (count < 1000) count++;
}

static void set(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void spate_signals_catch(void)
{
    first = 0;
    count = 0;
    set(on_signal);
}

void spate_signals_release(void)
{
    set(SIG_DFL);
}

int spate_signals_first(void)
{
    return first;
}

unsigned spate_signals_count(void)
{
    return (unsigned)count;
}
