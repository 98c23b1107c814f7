/* The `spate` command: dispatches to its subcommands, help and version. */
#include "bench.h"
#include "fetch.h"
#include "merge.h"
#include "spate.h"
#include "suggest.h"
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *to)
{
    fputs("usage: spate fetch [OPTIONS] [URL ...]   fetch many URLs concurrently\n"
          "       spate bench [OPTIONS] URL         load one URL and measure latency\n"
          "       spate merge [--json] REPORT.json...  add up the reports of one test's pieces\n"
          "       spate help [fetch|bench|merge]    this text, or a command's options\n"
          "       spate -V, --version               versions of spate and its libraries\n",
          to);
}

static int version(void)
{
    const char *ssl = spate_version_of("openssl");
    printf("spate %s\n", spate_version_of("spate"));
    /* OpenSSL names itself ("OpenSSL 3.0.13 30 Jan 2024"); a fork may not */
    printf("%s%s\n", strncmp(ssl, "OpenSSL ", 8) ? "OpenSSL " : "", ssl);
    printf("c-ares %s\n", spate_version_of("c-ares"));
    printf("llhttp %s\n", spate_version_of("llhttp"));
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

/* Runs a command's own --help, so `spate help fetch` and `spate fetch --help` never differ. */
static int help(const char *cmd)
{
    char *args[] = {(char *)cmd, "--help", NULL};
    if (!cmd) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "fetch")) return spate_fetch_main(2, args);
    if (!strcmp(cmd, "bench")) return spate_bench_main(2, args);
    if (!strcmp(cmd, "merge")) return spate_merge_main(2, args);
    fprintf(stderr, "spate help: no command '%s' (commands: fetch, bench, merge)\n", cmd);
    return 2;
}

static void unknown(const char *cmd)
{
    static const struct option commands[] = {
        {"fetch", 0, 0, 0}, {"bench", 0, 0, 0}, {"merge", 0, 0, 0}, {"help", 0, 0, 0}, {0, 0, 0, 0}};
    const char *near = cmd[0] == '-' ? NULL : spate_suggest_option(cmd, commands);
    fprintf(stderr, "spate: unknown command '%s'", cmd);
    if (near) fprintf(stderr, " (did you mean '%s'?)", near);
    fputc('\n', stderr);
    usage(stderr);
}

int main(int argc, char **argv)
{
    /* a peer closing mid-write must be an error for that request, not the death of the run */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "fetch")) return spate_fetch_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return spate_bench_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "merge")) return spate_merge_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version"))
        return version();
    if (!strcmp(cmd, "help")) return help(argc > 2 ? argv[2] : NULL);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    unknown(cmd);
    return 2;
}
