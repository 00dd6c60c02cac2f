"""
Maker: a spoken command that runs live, then without earmark (ONNX and C)
=========================================================================

You want a device to react to a spoken word: "zero" starts it, "one" stops it. You record a few takes of each
word, train a model, check it on a live stream, and then take it out of Python: an ONNX file for a
Raspberry-Pi-class board, or (retrained on cheap features) one C header for a microcontroller.

The takes here come from the free spoken digit data set (FSDD, CC BY-SA 4.0; six speakers, 8 kHz), found under
``EARMARK_DATA``: 50 takes per word from its training split, and 8 of each other digit.

**The data**: ``earmark fetch fsdd --to data/`` downloads FSDD from its official release, checks it and writes
``data/fsdd/`` with a ``metadata.csv`` (``filename, label, digit, speaker, take, split``); then
``export EARMARK_DATA=data``. Your own takes work the same way: one folder per word.
"""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

# sphinx_gallery_start_ignore
import sys as _sys  # (hidden on the page) ``sh``, from _session.py beside this file, runs a command line and shows it

_sys.path.insert(0, ".")
from _session import sh  # noqa: E402
# sphinx_gallery_end_ignore

FSDD = Path("data/fsdd")


# %%
# Class folders: ``words/zero/*.wav``, ``words/one/*.wav``, and ``words/other/`` for everything else the device
# will hear (the other digits), so that "none of my words" is an answer too.
work = Path("maker")
shutil.rmtree(work, ignore_errors=True)
rows = list(csv.DictReader(open(FSDD / "metadata.csv")))
names = {"0": "zero", "1": "one"}
for digit, label, count in (("0", "zero", 50), ("1", "one", 50), *((str(d), "other", 8) for d in range(2, 10))):
    takes = [r for r in rows if r["digit"] == digit and r["split"] == "train"][:count]
    (work / "words" / label).mkdir(parents=True, exist_ok=True)
    for r in takes:
        shutil.copy(FSDD / r["filename"], work / "words" / label)
sh("earmark train maker/words --out maker/words.earmark -q")

# %%
# A "live" stream: three test-split takes by jackson, with pauses. (Clip by clip, this small model gets 18 of the
# 20 test takes of "zero" and "one" by jackson and theo right; theo's first two "one"s it hears as "zero": more
# takes per word, and a keyword model, ``--model kws-crnn`` with ``--keywords``, are the next steps.) FSDD's takes are quiet
# (about -50 dBFS), so the gate that skips silent windows goes down to -70 dBFS. ``earmark listen``
# plays a file at real-time pace like a microphone (``--no-realtime`` here, to save time; without ``--input`` it
# opens the sound card).
test = [[r for r in rows if r["split"] == "test" and r["digit"] == d and r["speaker"] == "jackson"][i] for d, i in (("0", 0), ("1", 0), ("0", 1))]
pause = np.zeros(int(2.5 * 8000), np.float32)  # longer than a window (2.3 s): one word per window
takes = [sf.read(FSDD / r["filename"], dtype="float32")[0] for r in test]
stream = np.concatenate([np.concatenate([take, pause]) for take in takes])
sf.write(work / "stream.wav", stream, 8000)
start = 0.0
for r, take in zip(test, takes):  # where each word is in the stream, to compare with the lines listen prints
    print(f"said {names[r['digit']]!r} from {start:.2f} s to {start + len(take) / 8000:.2f} s")
    start += (len(take) + len(pause)) / 8000
sh("earmark listen maker/words.earmark --input maker/stream.wav --no-realtime --gate-db -70")

# %%
# Each line is a window that ended at the time shown: a word is heard in the windows that hold it, so it is said at
# the first window ending after it starts (and again while it is still in the window, every ``--hop-s``).

# %%
# **ONNX**: one graph from a window of samples to class scores, the front end (here aiSFX's log-mel and network)
# inside. The runner written beside it needs only onnxruntime, numpy and soundfile.
sh("earmark export maker/words.earmark --format onnx --out maker/words.onnx -q")
r = subprocess.run([sys.executable, work / "earmark_onnx_runner.py", work / "words.onnx", work / "stream.wav"],
                   capture_output=True, text=True)
print(r.stdout)

# %%
# **C**, for a microcontroller: a network is too big there, so the model is retrained on cheap features (MFCC
# statistics) with a small head, and exported as static tables and functions in one header (no allocation) with an
# example program that reads raw float32 samples. Build it with the system compiler and emlearn's headers:
sh("earmark train maker/words --embedder mfcc --classifier logreg --out maker/words-mcu.earmark -q")
sh("earmark export maker/words-mcu.earmark --format c --out maker/words.h -q")
import emlearn  # noqa: E402

subprocess.run(["cc", "-O2", "-I", emlearn.includedir, "-o", work / "classify", work / "words_example.c", "-lm"], check=True)
from earmark.audio import load  # noqa: E402

clip, _ = load(FSDD / test[0]["filename"], sr=22050)  # the program reads samples at the front end's rate (EARMARK_SAMPLE_RATE)
r = subprocess.run([work / "classify", "-"], input=clip.astype("<f4").tobytes(), capture_output=True)
print(f"the C program hears {names[test[0]['digit']]!r} as:", r.stdout.decode().strip(), "(class, score, windows)")
sf.write(work / "take.wav", clip, 22050)
sh("earmark predict maker/words-mcu.earmark maker/take.wav")
print("header:", (work / "words.h").stat().st_size, "bytes")
