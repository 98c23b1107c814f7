/* SIGINT and SIGTERM as flags a run polls: the handler only counts them, the run decides what an
 * interrupt means (stop starting work, give what runs a grace period, then cancel it). */
#ifndef SPATE_SIGNALS_H
#define SPATE_SIGNALS_H

/* Installs the handlers, without SA_RESTART so that a blocking wait or read returns EINTR and
 * the caller looks at the flags. Installed even when the signal was ignored at start (a
 * background job of a script): an interrupt must still end a run with whole lines. */
void spate_signals_catch(void);
/* The default dispositions again. */
void spate_signals_release(void);
/* The first signal caught (SIGINT or SIGTERM), 0 when none. */
int spate_signals_first(void);
/* How many have been caught so far. */
unsigned spate_signals_count(void);

#endif
