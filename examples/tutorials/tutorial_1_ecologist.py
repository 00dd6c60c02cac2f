"""
Ecologist: events in long field recordings, as Raven tables
===========================================================

You have hours of recordings from a field recorder and a few labelled clips of the sounds you care about. You want a
Raven selection table per recording, to check in Raven Pro, and counts per class.

Here the "field recording" is built from clips the model never saw (a dog and a rooster from ESC-10's second fold)
with quiet background noise between them; the model is trained on the 80 demo clips of ESC-10's first fold.

**The data**: the demo clips ship with earmark (``data/demo``). Your own: one folder of clips per sound you care
about (``my_sounds/wren/*.wav``, ...), or a ``metadata.csv``; more labelled sounds: ``earmark fetch esc10 --to data/``.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

# sphinx_gallery_start_ignore
import sys as _sys  # (hidden on the page) ``sh``, from _session.py beside this file, runs a command line and shows it

_sys.path.insert(0, ".")
from _session import sh  # noqa: E402
# sphinx_gallery_end_ignore

DEMO = Path("data/demo")


# %%
# A 40-second recording: 10 s of quiet noise, the dog (5 s), 10 s of noise, the rooster (5 s), 10 s of noise.
work = Path("ecologist")
work.mkdir(exist_ok=True)
sr = 44100
noise = np.random.default_rng(1).normal(0, 0.003, 10 * sr).astype(np.float32)
dog = sf.read(DEMO / "unseen" / "2-114280-A-0.flac", dtype="float32")[0]
rooster = sf.read(DEMO / "unseen" / "2-100786-A-1.flac", dtype="float32")[0]
sf.write(work / "site-A_2026-05-01.flac", np.concatenate([noise, dog, noise, rooster, noise]), sr)

# %%
# Train on the labelled clips (class folders or a ``metadata.csv``; here a CSV with ESC-10's columns). The default
# front end is the aiSFX network; for birds, ``--embedder birdnet`` uses BirdNET (non-commercial licence).
sh("earmark train data/demo/train --out ecologist/sounds.earmark -q")

# %%
# Detect events in every recording of a folder, one Raven selection table each, and a picture of each.
sh("earmark detect ecologist/sounds.earmark ecologist --format raven --out ecologist/events --plot -q")

# %%
# The table Raven Pro opens (tab-separated):
print((work / "events" / "site-A_2026-05-01.selections.txt").read_text())

# %%
# The dog and the rooster are there, but so is "crackling fire", three times, with lower scores: the hiss between
# them is heard as the training class that sounds most like noise. Two remedies: teach the model the site's
# background (a class named ``background``, which is never reported as an event, from stretches of the site's own
# recordings where nothing happens), or ask for surer events. Here the scores tell them apart, so a higher
# ``--threshold`` is enough:
sh("earmark detect ecologist/sounds.earmark ecologist/site-A_2026-05-01.flac --format raven "
   "--threshold 0.8 --out ecologist/events --plot -q")
print((work / "events" / "site-A_2026-05-01.selections.txt").read_text())

# %%
# Events shorter than a second or two apart from each other can be merged, and short ones dropped:
# ``--merge-gap-s 1 --min-duration-s 0.5``. ``--threshold`` trades missed events for false ones. The picture shows the
# spectrogram, the window scores and the events:

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(10, 5))
ax.imshow(mpimg.imread(work / "events" / "site-A_2026-05-01.detect.png"))
ax.axis("off")
fig.tight_layout()
