/* The `spate` command: dispatches to its subcommands. */
#include "bench.h"
#include "fetch.h"
#include "spate.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *to)
{
    fputs("usage: spate fetch [OPTIONS] [URL ...]   fetch many URLs concurrently\n"
          "       spate bench [OPTIONS] URL         load one URL and measure latency\n"
          "       spate --version\n"
          "Run 'spate fetch --help' or 'spate bench --help' for the options.\n",
          to);
}

int main(int argc, char **argv)
{
    /* a peer closing mid-write must be an error for that request, not the death of the run */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "fetch")) return spate_fetch_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return spate_bench_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--version")) {
        printf("spate %s\n", SPATE_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "spate: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
