/* `spate merge`: the reports of one test's pieces added up into one report. */
#ifndef SPATE_MERGE_H
#define SPATE_MERGE_H

/* Runs `spate merge` with argv[0] == "merge". Returns the exit status. */
int spate_merge_main(int argc, char **argv);

#endif
