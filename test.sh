#!/usr/bin/env bash
# Builds SharpLM and runs the whole test suite; ends with one line "N passed, N failed, N skipped".
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Generation").
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# The distributed tests start MPI ranks with MPICH's mpiexec: install Debian's mpich when it is missing and we can.
if ! command -v mpiexec >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing MPICH (apt-get install mpich) for the distributed tests"
  { apt-get install -y -q mpich || { apt-get update -q && apt-get install -y -q mpich; }; } >/dev/null 2>&1 \
    || echo "warning: could not install mpich; the distributed tests will fail" >&2
fi
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
