#!/usr/bin/env bash
# The quick-start demo: installs autoqueue into .venv, then `autoqueue demo` adds three sample
# tasks in demo-home/ and runs the whole pipeline, offline, to real videos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
if [ ! -d /usr/share/fonts/truetype/nanum ] && [ ! -d /usr/share/fonts/opentype/noto ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing a Hangul font (fonts-nanum) for the Korean sample..."
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null \
            || echo "could not install fonts-nanum; Korean text will be left out of the cards"
    else
        echo "note: no Hangul font found; install one (sudo apt-get install fonts-nanum) to see Korean text"
    fi
fi
.venv/bin/autoqueue demo --dir demo-home
