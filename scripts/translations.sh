#!/usr/bin/env bash
# Translations: collect every marked message into locale/autoqueue.pot, merge it into each
# language's .po (new messages arrive empty, for a translator to fill), and compile the .mo
# files that autoqueue reads. tests/test_i18n.py fails while a message has no Korean
# translation or a .mo is older than its .po. Needs the dev tools: bash scripts/bootstrap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCALE=src/autoqueue/locale
PYBABEL=".venv/bin/pybabel"
"$PYBABEL" extract -F babel.cfg --no-location --sort-output \
    --project autoqueue --msgid-bugs-address "" -o "$LOCALE/autoqueue.pot" .
for lang in ko; do
    po="$LOCALE/$lang/LC_MESSAGES/autoqueue.po"
    if [ -f "$po" ]; then
        "$PYBABEL" update --no-fuzzy-matching --ignore-obsolete \
            -i "$LOCALE/autoqueue.pot" -d "$LOCALE" -D autoqueue -l "$lang"
    else
        "$PYBABEL" init -i "$LOCALE/autoqueue.pot" -d "$LOCALE" -D autoqueue -l "$lang"
    fi
done
"$PYBABEL" compile --statistics -d "$LOCALE" -D autoqueue
