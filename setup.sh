#!/usr/bin/env bash
# Set up docwatch on a fresh machine: Debian packages where apt is available, then a virtualenv.
#   ./setup.sh          what docwatch needs to run (antiword: text of legacy .doc attachments)
#   ./setup.sh --test   and what the tests need (Chromium for the HTML digest; pytest and friends)
set -euo pipefail
cd "$(dirname "$0")"

packages="antiword"
extras="."
if [ "${1:-}" = "--test" ]; then
  packages="$packages chromium"
  extras=".[test]"
fi

missing=""
for package in $packages; do
  command -v "$package" >/dev/null || missing="$missing $package"
done
if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && ($sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null); then
    echo "installed:$missing"
  else
    echo "could not install:$missing (without antiword .doc attachments are recorded as unreadable;" \
         "without chromium the HTML digest browser test is skipped)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e "$extras"
