/* A minimal declaration of the BSD kqueue API (kqueue(2), kevent(2)), written for spate so that
 * engine/poll_kqueue.c.h compiles on Linux: tests/test_kqueue.c defines kqueue() and kevent()
 * itself and plays the kernel. Names and values follow FreeBSD and macOS; only what spate uses.
 * Compiling against it proves the backend is valid C for this API as declared here, not that a
 * real kernel answers as the test's fake one does. SPATE_KQ_NO_RECEIPT leaves out EV_RECEIPT, as
 * on NetBSD before 10, to compile the backend's other path. */
#ifndef SPATE_TEST_KQ_SYS_EVENT_H
#define SPATE_TEST_KQ_SYS_EVENT_H
#include <stdint.h>
#include <time.h>

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

/* actions and flags of a change */
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020 /* edge-triggered: state reset once reported */
#ifndef SPATE_KQ_NO_RECEIPT
#define EV_RECEIPT 0x0040 /* answer every change with an EV_ERROR entry, data 0 on success */
#endif
/* returned flags */
#define EV_ERROR 0x4000 /* data holds an errno */
#define EV_EOF 0x8000   /* end of file; for a socket, fflags holds its pending error */

struct kevent {
    uintptr_t ident;      /* the fd */
    short filter;         /* EVFILT_* */
    unsigned short flags; /* EV_* */
    unsigned int fflags;  /* filter flags; the socket error with EV_EOF */
    int64_t data;         /* filter data; the errno with EV_ERROR */
    void *udata;          /* the caller's pointer, returned as given */
};

#define EV_SET(kevp, a, b, c, d, e, f)                                                             \
    do {                                                                                           \
        *(kevp) = (struct kevent){                                                                 \
            .ident = (a), .filter = (b), .flags = (c), .fflags = (d), .data = (e), .udata = (f)};  \
    } while (0)

/* Returns a new kqueue descriptor, or -1 and errno. */
int kqueue(void);
/* Applies nchanges changes, then returns up to nevents events (waiting at most *timeout, forever
 * when NULL); returns how many, or -1 and errno. */
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif
