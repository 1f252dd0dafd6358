#!/usr/bin/env bash
# Runs a test command (its arguments) and passes its output through; if it
# fails, repeats the lines that say what failed at the very end, where a
# CI log shows its tail: each "--- FAIL", each test's own message
# (file_test.go:N: ...), each panic and each failed package. Exits with
# the command's status.
set -uo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "=== what failed, repeated from above (the last 24 such lines, each cut at 300 characters) ==="
  grep -E -e '^[[:space:]]*--- FAIL' -e '^[[:space:]]+[A-Za-z0-9_]+_test\.go:[0-9]+: ' -e '^(panic:|FAIL)' "$out" |
    cut -c1-300 | tail -n 24
fi
exit "$rc"
