/* Catching SIGINT and SIGTERM without dying: the handler only counts the signal and writes a byte
 * to a self-pipe, so an event loop wakes at once by watching the pipe's read end like any socket.
 * Process-wide (signal dispositions are): one installation at a time. */
#ifndef SPATE_INTERRUPT_H
#define SPATE_INTERRUPT_H

/* Catches SIGINT and SIGTERM from now on (SA_RESTART, so blocking writes are not cut short;
 * epoll_wait/kevent still return EINTR). Returns 0, or -errno with nothing changed. Installing
 * twice without spate_interrupt_uninstall in between is refused with -EBUSY. */
int spate_interrupt_install(void);

/* Restores the dispositions found by spate_interrupt_install, closes the pipe and forgets the
 * signals seen. A signal arriving after this gets the old disposition. Harmless when not
 * installed. */
void spate_interrupt_uninstall(void);

/* The pipe's read end (non-blocking, close-on-exec; owned by this module, never close it):
 * readable once a signal was caught, and until spate_interrupt_drain. -1 when not installed. */
int spate_interrupt_fd(void);

/* Empties the pipe so the fd is readable again only at the next signal (a loop that goes on
 * after the first signal, waiting for a second one, drains it when it wakes). */
void spate_interrupt_drain(void);

/* The first signal caught since install (SIGINT or SIGTERM), 0 if none. */
int spate_interrupt_signal(void);

/* How many signals were caught since install. */
unsigned spate_interrupt_count(void);

/* 128 + the first signal caught (130 for SIGINT, 143 for SIGTERM), as a shell reports a process
 * killed by it; 0 if none was caught. */
int spate_interrupt_exit_status(void);

#endif
