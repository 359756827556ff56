#!/usr/bin/env bash
# Create the project's virtualenv on a fresh Debian machine: makes sure a Python >= 3.11 with the venv
# module exists (installing Debian's python3-venv when running as root), then creates VENV.
# Usage: scripts/bootstrap.sh [PYTHON] [VENV]
set -euo pipefail

python=${1:-python3}
venv=${2:-.venv}

if ! command -v "$python" >/dev/null 2>&1 || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian's python3 (>= 3.11 needed)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    python=python3
  else
    echo "bootstrap: need Python >= 3.11 as '$python' (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "bootstrap: installing Debian's python3-venv" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv "$venv"
    else
      echo "bootstrap: '$python -m venv' failed; install python3-venv" >&2
      exit 1
    fi
  fi
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
