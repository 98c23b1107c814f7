#!/bin/sh
# Runs every test program under prove, then prints "N passed, N failed" (TAP assertions) last.
log=$(mktemp)
prove -v "$@" 2>&1 | tee "$log"
rc=$?
passed=$(grep -cE '^[[:space:]]*ok[[:space:]]' "$log")
failed=$(grep -cE '^[[:space:]]*not ok[[:space:]]' "$log")
if grep -q '^Result: FAIL' "$log" && [ "$failed" = 0 ]; then
    failed=1 # a test program died or planned more than it ran
fi
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
