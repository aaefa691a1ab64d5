#!/usr/bin/env bash
# The quick-start demo: installs autoqueue into .venv, makes a fresh home in demo-home/, adds
# three sample tasks whose stages run examples/example_stage.py, and runs the queue to the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
AQ="$PWD/.venv/bin/autoqueue"
HOME_DIR="$PWD/demo-home"
rm -rf "$HOME_DIR"
mkdir -p "$HOME_DIR"
STAGE="$PWD/examples/example_stage.py"
cat > "$HOME_DIR/autoqueue.toml" <<TOML
# Written by scripts/demo.sh: every stage runs the example program.
[retry]
delays = [1, 2, 5]
[stages.script]
command = ["{python}", "$STAGE"]
[stages.image]
command = ["{python}", "$STAGE"]
[stages.video]
command = ["{python}", "$STAGE"]
[stages.youtube]
command = ["{python}", "$STAGE"]
TOML
export AUTOQUEUE_HOME="$HOME_DIR"
"$AQ" init
"$AQ" add "초간편 무선 가습기 리뷰" --type product --media-mode crawl \
    --product-info '{"name": "무선 가습기", "price": "39,000원", "features": ["무소음", "8시간 지속"]}'
"$AQ" add "A week of home cooking" --type longform --media-mode crawl --repeat daily
"$AQ" add "Morning stretch in 60 seconds" --type shortform --media-mode crawl --privacy unlisted
"$AQ" list
"$AQ" tick --drain --max-seconds 120
"$AQ" list completed
"$AQ" contents
echo
echo "Outputs are under $HOME_DIR/tasks/ and $HOME_DIR/outbox/."
echo "Try: AUTOQUEUE_HOME=$HOME_DIR $AQ logs --limit 20"
