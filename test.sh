#!/usr/bin/env bash
# Builds SharpLM and runs the whole test suite; ends with one line "N passed, N failed, N skipped".
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Generation").
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
results="$PWD/TestResults"
rm -rf "$results"
dotnet test SharpLM.slnx --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
status=$?
trx=$(find "$results" -name '*.trx' 2>/dev/null | head -n 1)
if [ -z "$trx" ]; then
  echo "no test results were written (build failure?)"
  echo "0 passed, 1 failed"
  exit 1
fi
counter() { grep -o "<Counters [^>]*" "$trx" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
total=$(counter total); executed=$(counter executed); passed=$(counter passed); failed=$(counter failed)
skipped=$(( total - executed ))
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
