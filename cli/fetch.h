/* `spate fetch`: many requests, concurrently. */
#ifndef SPATE_FETCH_H
#define SPATE_FETCH_H
/* Runs the command; returns the exit status (0 all ok, 1 some failed, 2 usage/input error). */
int spate_fetch_main(int argc, char **argv);
#endif
