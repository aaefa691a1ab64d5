"""The voices that narrate a video: engines behind one small interface (``engine.py``), tried in
the order ``[stages.video] narration`` lists them (``chain.py``)."""
