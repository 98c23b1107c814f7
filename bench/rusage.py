#!/usr/bin/env python3
"""rusage.py TIMEFILE CMD...: runs CMD, writes "wall user sys maxrss_kb" to TIMEFILE.

Like `/usr/bin/time -f '%e %U %S %M'`, but with microsecond resolution: GNU time prints
hundredths, which is coarser than a whole 10,000-URL run of a fast client. The times cover the
command and every process it waited for (os.wait4 of the child)."""
import os
import sys
import time

def main():
    timefile, cmd = sys.argv[1], sys.argv[2:]
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    with open(timefile, "w") as f:
        f.write("%.6f %.6f %.6f %d\n" % (wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
    sys.exit(os.waitstatus_to_exitcode(status))

main()
