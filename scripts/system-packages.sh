#!/usr/bin/env bash
# What the test suite needs from the system besides Python: PostgreSQL's server programs
# (initdb, pg_ctl: the tests start a throwaway cluster) and a Hangul font (the cards draw
# Korean). Installs what is missing with apt-get when it can (root on Debian/Ubuntu), as
# demo.sh does for the font; otherwise says in one line what to install and exits 1.
# PG_BIN, when set, is the one place initdb is looked for (as tests/pgserver.py does).
# AUTOQUEUE_NO_INSTALL=1: only say what is missing.
set -euo pipefail

have_postgres() {
    if [ -n "${PG_BIN:-}" ]; then
        [ -x "$PG_BIN/initdb" ]
        return
    fi
    command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

have_hangul_font() {
    [ -d /usr/share/fonts/truetype/nanum ] || [ -d /usr/share/fonts/opentype/noto ] \
        || { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ko 2>/dev/null)" ]; }
}

missing=()
have_postgres || missing+=(postgresql)
have_hangul_font || missing+=(fonts-nanum)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "${AUTOQUEUE_NO_INSTALL:-}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} for the tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    exit 0
fi
echo "the tests need ${missing[*]}: install it (Debian/Ubuntu: sudo apt-get install ${missing[*]}; elsewhere your system's package of the same name, or PG_BIN set to the folder with PostgreSQL's initdb), then run this again" >&2
exit 1
