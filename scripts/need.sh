#!/usr/bin/env bash
# need.sh COMMAND DEBIAN_PACKAGE [WHY]: make sure COMMAND exists, installing DEBIAN_PACKAGE with
# apt-get when we may (root, or passwordless sudo); otherwise say what to install and exit 2.
set -euo pipefail
cmd=$1 pkg=$2 why=${3:-}

found() { command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/sbin/$cmd" ]; }
found && exit 0

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

if command -v apt-get >/dev/null 2>&1 && as_root true 2>/dev/null; then
  echo "need: installing $pkg (for $cmd${why:+: $why}) with apt-get" >&2
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
fi
found \
  || { echo "need: $cmd not found${why:+ ($why)}: install it (Debian/Ubuntu: sudo apt-get install $pkg) and retry" >&2; exit 2; }
