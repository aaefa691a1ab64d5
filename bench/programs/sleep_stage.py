"""A stage program for the pipelining benchmark: sleeps for its stage's time, writes its outputs.

usage: sleep_stage.py SECONDS_SCRIPT SECONDS_IMAGE SECONDS_VIDEO SECONDS_YOUTUBE
"""

import json
import os
import sys
import time
from pathlib import Path

stage = os.environ["AUTOQUEUE_QUEUE_TYPE"]
seconds = dict(zip(("script", "image", "video", "youtube"), map(float, sys.argv[1:5]), strict=True))
time.sleep(seconds[stage])
here = Path.cwd()
if stage == "script":
    (here / "story.json").write_text(json.dumps({"title": "bench", "scenes": [{"text": "x"}]}))
elif stage == "image":
    (here / "scene_01.png").write_bytes(b"\x89PNG bench")
elif stage == "video":
    (here / "output.mp4").write_bytes(b"bench")
    (here / "thumbnail.jpg").write_bytes(b"bench")
