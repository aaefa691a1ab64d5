#!/bin/sh
# A stage program that does nothing but leave the outputs its stage must leave (README "The
# stage-handler contract": story.json, a scene_* image, output.mp4 and thumbnail.jpg), so that
# the benchmarks time autoqueue's own work around a stage: the claim, the supervisor, the
# records. /bin/sh starts in about a millisecond, where Python takes 10 to 25 ms.
case "$AUTOQUEUE_QUEUE_TYPE" in
  script) printf '{"title": "bench", "scenes": [{"text": "x"}]}' > story.json ;;
  image) printf 'x' > scene_01.png ;;
  video) printf 'x' > output.mp4 && printf 'x' > thumbnail.jpg ;;
esac
