#!/usr/bin/env bash
# Set up docwatch on a fresh machine: Debian packages where apt is available, then a virtualenv,
# and `docwatch` on the PATH (a link in ~/.local/bin).
#   ./setup.sh          what docwatch needs to run (antiword: text of legacy .doc attachments;
#                       tesseract-ocr with Chinese, Uyghur and Tibetan data, poppler-utils: OCR of scans)
#   ./setup.sh --test   and what the tests need (Chromium and a CJK font for the HTML digest;
#                       pytest and friends; ReplayWeb.page's files, with npm)
set -euo pipefail
cd "$(dirname "$0")"

packages="antiword tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-uig tesseract-ocr-bod poppler-utils"
extras="."
if [ "${1:-}" = "--test" ]; then
  packages="$packages chromium fonts-noto-cjk fonts-tibetan-machine"  # fonts: the OCR tests print Chinese and Tibetan
  extras=".[test]"
fi

installed() {  # a program by its name; the CJK font by what fontconfig knows
  case "$1" in
    fonts-noto-cjk) command -v fc-list >/dev/null && fc-list :lang=zh family | grep -q . ;;
    fonts-tibetan-machine) [ -e /usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf ] ;;
    tesseract-ocr-*) command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx "$(echo "${1#tesseract-ocr-}" | tr - _)" ;;
    tesseract-ocr) command -v tesseract >/dev/null ;;
    poppler-utils) command -v pdftoppm >/dev/null ;;
    *) command -v "$1" >/dev/null ;;
  esac
}

missing=""
for package in $packages; do
  installed "$package" || missing="$missing $package"
done
if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null && ($sudo apt-get update -qq && $sudo apt-get install -y -qq $missing >/dev/null); then
    echo "installed:$missing"
  else
    echo "could not install:$missing (without antiword .doc attachments are recorded as unreadable;" \
         "without tesseract and poppler-utils scans are kept without text, and the OCR tests are skipped;" \
         "without chromium the HTML digest browser test is skipped; without a CJK font it fails)" >&2
  fi
fi

python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e "$extras"

if [ "${1:-}" = "--test" ] && [ ! -d .venv/replaywebpage/package ]; then
  # ReplayWeb.page's own built files (ui.js, sw.js), for the test that opens an evidence package in
  # it: `npm pack` fetches the package alone, which is all a page that embeds it needs.
  if command -v npm >/dev/null && mkdir -p .venv/replaywebpage \
     && (cd .venv/replaywebpage && npm pack --silent replaywebpage@2 >/dev/null && tar xzf replaywebpage-*.tgz); then
    echo "unpacked ReplayWeb.page into .venv/replaywebpage/package"
  else
    echo "could not fetch ReplayWeb.page (npm pack replaywebpage): the test replaying a package in it is skipped" >&2
  fi
fi

bin_dir="$HOME/.local/bin"
mkdir -p "$bin_dir"
if [ -e "$bin_dir/docwatch" ] && [ ! -L "$bin_dir/docwatch" ]; then
  echo "$bin_dir/docwatch exists and is not a link: left alone; run .venv/bin/docwatch" >&2
  exit 0
fi
ln -sfn "$PWD/.venv/bin/docwatch" "$bin_dir/docwatch"
case ":$PATH:" in
  *":$bin_dir:"*) echo "docwatch is on your PATH: $bin_dir/docwatch -> $PWD/.venv/bin/docwatch" ;;
  *) echo "linked $bin_dir/docwatch -> $PWD/.venv/bin/docwatch; $bin_dir is not on your PATH:" \
          "add it (export PATH=\"$bin_dir:\$PATH\" in ~/.profile) or run .venv/bin/docwatch" ;;
esac
