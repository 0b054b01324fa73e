#!/usr/bin/env bash
# vendor-mermaid.sh [DIR]: put the pinned Mermaid (mermaid.min.js and its LICENSE) in DIR
# (default .cache/mermaid, git-ignored) once, for tests/integration/test_mermaid.py, which
# fails without it. Fetched with npm from the npm registry and checked against the sha512
# the registry published for that version (`npm view mermaid@VERSION dist.integrity`).
set -euo pipefail
VERSION=11.17.2
INTEGRITY=sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==
DIR=${1:-.cache/mermaid}

die() { echo "vendor-mermaid: $*" >&2; exit 2; }

[ -s "$DIR/mermaid.min.js" ] && [ "$(cat "$DIR/VERSION" 2>/dev/null)" = "$VERSION" ] && exit 0
"$(dirname "$0")/need.sh" npm npm "Mermaid for the docs' diagram test comes from the npm registry"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack "mermaid@$VERSION" --pack-destination "$work" --silent >/dev/null 2>"$work/npm.log" \
  || die "npm could not fetch mermaid@$VERSION: $(tail -n 1 "$work/npm.log"); check the network and retry"
archive="$work/mermaid-$VERSION.tgz"
actual=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$archive")
[ "$actual" = "$INTEGRITY" ] || die "mermaid-$VERSION.tgz does not match its pinned sha512: not used"
tar -xzf "$archive" -C "$work" package/dist/mermaid.min.js package/LICENSE
mkdir -p "$DIR"
cp "$work/package/LICENSE" "$DIR/LICENSE"
cp "$work/package/dist/mermaid.min.js" "$DIR/mermaid.min.js"
echo "$VERSION" > "$DIR/VERSION"
echo "vendor-mermaid: mermaid $VERSION in $DIR" >&2
