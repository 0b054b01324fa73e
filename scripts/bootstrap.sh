#!/usr/bin/env bash
# Create the project's virtualenv and install shipyard into it, installing what the system
# lacks (python3-venv) when we may: as root, or with passwordless sudo. Otherwise say what to
# install, in one line, and exit 2.
set -euo pipefail

PYTHON=${1:-python3}
VENV=${2:-.venv}
MIN_PY="3.11"

die() { echo "bootstrap: $*" >&2; exit 2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  echo "bootstrap: installing $* with apt-get" >&2
  as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq "$@" >/dev/null
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  [ "$PYTHON" = python3 ] && apt_install python3 python3-venv || true
  command -v "$PYTHON" >/dev/null 2>&1 \
    || die "$PYTHON not found: install Python >= $MIN_PY (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or pass PYTHON=/path/to/python3"
fi

"$PYTHON" -c "import sys; sys.exit(sys.version_info < (3, 11))" \
  || die "$("$PYTHON" --version 2>&1) is too old: shipyard needs Python >= $MIN_PY"

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    { apt_install "python${pyver}-venv" || apt_install python3-venv; } \
      || die "cannot create a virtualenv: install python3-venv (sudo apt-get install python3-venv) and retry"
    "$PYTHON" -m venv "$VENV" || die "cannot create a virtualenv in $VENV"
  fi
fi

echo "bootstrap: installing shipyard and its dependencies into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null \
  || die "pip could not upgrade itself: check access to the package index"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]' \
  || die "pip install failed (see above): check access to the package index"
