#!/usr/bin/env python3
"""header_functions.py HEADER [CC]: prints, one per line and sorted, the names of the functions
HEADER declares (not those of the headers it includes, not function-pointer typedefs or struct
members). The C preprocessor expands the header (SPATE_API defined empty) and its line markers
say which lines are HEADER's own; a small parser then takes each top-level declaration with a
parameter list. Independent of the build's own symbol list, so the two cannot drift together."""
import os
import re
import subprocess
import sys


def own_lines(hdr, cc):
    out = subprocess.run([cc, "-E", "-DSPATE_API=", "-xc", hdr], capture_output=True, text=True,
                         check=True).stdout
    lines, mine = [], False
    for line in out.splitlines():
        m = re.match(r'# \d+ "(.*)"', line)
        if m:
            mine = os.path.exists(m.group(1)) and os.path.samefile(m.group(1), hdr)
        elif mine:
            lines.append(line)
    return "\n".join(lines)


def functions(src):
    depth, stmt, names = 0, "", set()
    for ch in src:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            s, stmt = " ".join(stmt.split()), ""
            if s.startswith("typedef") or "(" not in s:
                continue  # a type, or a struct/enum definition (its body was skipped)
            m = re.match(r"[^(]*?([A-Za-z_]\w*)\s*\(", s)  # the name right before the first "("
            if m:
                names.add(m.group(1))
            continue
        if depth == 0:
            stmt += ch
    return sorted(names)


if __name__ == "__main__":
    print("\n".join(functions(own_lines(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "cc"))))
