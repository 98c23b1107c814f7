/* `spate bench`: load one URL and measure latency. */
#ifndef SPATE_BENCH_H
#define SPATE_BENCH_H
/* Runs the command; returns the exit status (0 ok, 1 errors seen, 2 usage error). */
int spate_bench_main(int argc, char **argv);
#endif
