"""
QA engineer: listen to a machine, flag what is not normal
=========================================================

A machine makes a regular ticking sound when it runs well, and a grinding one when a known fault starts. You want
a monitor on a live input that says which it hears, and says **unknown** for anything it was not taught rather than
forcing it into one of the two.

Sounds here: ESC-10's clock ticks stand for the machine running well and its chainsaw for the grinding fault; a dog
barking stands for something new. Training uses the demo clips (fold 1); the live stream is built from ESC-10's
fold 2 (under ``EARMARK_DATA``), which the model never saw.

**The data**: the demo clips ship with earmark; ``earmark fetch esc10 --to data/`` downloads ESC-10 from ESC-50's
official archive, checks it and writes ``data/esc10/`` (``filename, label, fold, ...``); then
``export EARMARK_DATA=data``. Your own recordings work the same way: one folder per sound.
"""

import csv
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

# sphinx_gallery_start_ignore
import sys as _sys  # (hidden on the page) ``sh``, from _session.py beside this file, runs a command line and shows it

_sys.path.insert(0, ".")
from _session import sh  # noqa: E402
# sphinx_gallery_end_ignore

DEMO = Path("data/demo")
ESC10 = Path("data/esc10")


# %%
# Training clips in class folders: ``normal/`` (ticking) and ``grinding/``.
work = Path("qa")
shutil.rmtree(work, ignore_errors=True)
demo = list(csv.DictReader(open(DEMO / "train" / "metadata.csv")))
for label, sound in (("normal", "clock_tick"), ("grinding", "chainsaw")):
    (work / "sounds" / label).mkdir(parents=True)
    for r in demo:
        if r["label"] == sound:
            shutil.copy(DEMO / "train" / r["filename"], work / "sounds" / label)

# %%
# ``--reject distance`` adds "none of these": a window far from every training clip is **unknown**. Its threshold
# is set on held-out training clips so that 5% of known sounds would be rejected (``--reject-rate``).
sh("earmark train qa/sounds --reject distance --out qa/machine.earmark -q")

# %%
# The "live" input: 25 s of ticking, 10 s of grinding, 5 s of a dog, from fold 2. ``earmark listen`` plays a file
# at real-time pace like a sound card (``--no-realtime`` here; without ``--input`` it opens the default input, and
# ``--input -`` reads raw 16-bit PCM from another program). Each line: stream time, label, score, level, latency;
# one window every 2 s here (``--hop-s 2``; the default is every 0.5 s).
fold2 = [r for r in csv.DictReader(open(ESC10 / "metadata.csv")) if r["fold"] == "2"]


def clips(sound, n):
    return [sf.read(ESC10 / r["filename"], dtype="float32")[0] for r in fold2 if r["label"] == sound][:n]


sf.write(work / "line-3.flac", np.concatenate(clips("clock_tick", 5) + clips("chainsaw", 2) + clips("dog", 1)), 44100)
sh("earmark listen qa/machine.earmark --input qa/line-3.flac --no-realtime --hop-s 2.0")

# %%
# The ticking is ``normal``, the grinding is ``grinding``, and the dog at the end, which nobody taught the model, is
# **unknown**: "unknown (nearest grinding 0.79)" means the window is far from every training clip, and the class it
# came nearest would have claimed it with probability 0.79; a classifier without ``--reject`` would have said
# "grinding" and been wrong. Every unknown window is said, whatever ``--threshold``: for a monitor, the sound nobody
# expected is the news. A window that straddles a change (the stream's first window, the ticking giving way to the
# grinding) can come out unknown too: it is like no training clip. The last line, on stderr, sums the session up: how many windows were said, how late, and
# what share of a core the monitor used.
#
# What a monitor does with these lines is yours to decide: the JSON of ``earmark predict --format json`` or the
# web service (``earmark serve``, with a live-input page) give the same labels to another program. Silent windows
# are not classified (``--gate-db``), so a machine that stops says nothing rather than something wrong.
