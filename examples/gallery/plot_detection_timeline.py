"""
Events in a long recording
==========================

A model trained on clips finds **events** in a recording of any length: every analysis window is scored, the scores
are smoothed over a few windows, and a hysteresis threshold turns them into events with a start, an end and a label
(written as Audacity labels or a Raven selection table by ``earmark detect``).

The recording here is made of the two demo clips the model never saw (a dog, then a rooster) with quiet noise
around them, so we know where the events are.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

import earmark

DEMO = Path("../../data/demo")
work = Path(tempfile.mkdtemp())

model = earmark.train(DEMO / "train")  # aisfx + logistic regression, the defaults
dog, sr = sf.read(DEMO / "unseen" / "2-114280-A-0.flac", dtype="float32")
rooster, _ = sf.read(DEMO / "unseen" / "2-100786-A-1.flac", dtype="float32")
noise = np.random.default_rng(0).normal(0, 0.002, 4 * sr).astype(np.float32)
recording = work / "field.flac"
sf.write(recording, np.concatenate([noise, dog, noise, rooster, noise]), sr)

batch = earmark.detect(model, recording, out_dir=work / "events", fmt="raven")
for event in batch.records[0]["events"]:
    print(f"{event.label:8s} {event.start_s:5.2f} - {event.end_s:5.2f} s  score {event.score:.2f}")
print("Raven table:", Path(batch.records[0]["written_to"]).name)

# %%
# The dog and the rooster are found where they are. The white noise between them is heard as *crackling fire*,
# the demo class that sounds most like noise: a model meant for field recordings should be taught what the
# background sounds like (a ``background`` class of a few empty stretches), or detect at a higher ``threshold``.
#
# The window scores behind the events (``Model.window_scores``), with the true positions shaded.

ws = model.window_scores(recording)
y, _ = sf.read(recording, dtype="float32")
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True, height_ratios=[1, 2])
top.plot(np.arange(len(y)) / sr, y, linewidth=0.3, color="black")
top.set_ylabel("waveform")
for name in ("dog", "rooster"):
    bottom.plot(ws.times_s, ws.scores[:, ws.classes.index(name)], marker="o", label=name)
for start, label in ((4, "dog"), (13, "rooster")):
    for ax in (top, bottom):
        ax.axvspan(start, start + 5, color="tab:green", alpha=0.12)
    top.text(start + 0.1, top.get_ylim()[1] * 0.7, f"true {label}")
for event in batch.records[0]["events"]:
    bottom.hlines(1.03, event.start_s, event.end_s, linewidth=6, color="tab:red")
bottom.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="threshold")
bottom.set_ylim(0, 1.08)
bottom.set_xlabel("time (s)")
bottom.set_ylabel("window score")
bottom.legend(loc="center right")
fig.suptitle("detected events (red) against the true clips (green)")
fig.tight_layout()
