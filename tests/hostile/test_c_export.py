"""Issue 25, defect 8b: class names cannot inject C into an exported header (compiled and run to prove it)."""

from __future__ import annotations

import csv
import shutil
import subprocess

import numpy as np
import pytest

import earmark
from earmark.audio import load
from earmark.export.c import c_comment, c_string, import_emlearn
from tests.conftest import make_demo_subset
from tests.hostile.conftest import run

EVIL = ["dog */ int evil = 1 /* x", 'rain\\" } int evil2 = 2 //', "rooster\n#define evil3 3\n?" + "\u00e9"]


def test_c_string_and_comment_escape_everything():
    assert c_string('a"b\\c\n?') == '"a\\"b\\\\c\\012\\077"'
    assert "*/" not in c_comment("x */ y /* z */") and "/*" not in c_comment("x */ y /* z */")


def test_class_names_stay_names_in_the_compiled_header(tmp_path):
    emlearn = import_emlearn()
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed (the Makefile's system packages install gcc)"
    data = make_demo_subset(tmp_path / "d")
    rows = list(csv.DictReader(open(data / "metadata.csv")))
    rename = dict(zip(("dog", "rain", "rooster"), EVIL))
    with open(data / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "label"])
        for r in rows:
            w.writerow([r["filename"], rename[r["label"]]])
    model = earmark.train(data, embedder="mfcc", cache_dir=tmp_path / "cache")
    path = model.save(tmp_path / "evil.earmark")
    r = run("export", path, "--format", "c", "--out", tmp_path / "evil.h")
    assert r.exit_code == 0, r.output
    # a program that defines the names a class would have injected: any injection is a redefinition error
    probe = tmp_path / "probe.c"
    probe.write_text('#include "evil.h"\nint evil = 0, evil2 = 0, evil3 = 0;\n#include <stdio.h>\n'
                     'int main(void) { for (int i = 0; i < EARMARK_N_CLASSES; i++) printf("%s|", earmark_classes[i]); '
                     "return evil + evil2 + evil3; }\n")
    binary = tmp_path / "probe"
    subprocess.run([compiler, "-std=c99", "-Wall", "-Werror", "-Wno-unused-function", "-Wno-unused-variable", "-I",
                    emlearn.includedir, "-I", str(tmp_path), "-o", str(binary), str(probe), "-lm"], check=True, capture_output=True)
    out = subprocess.run([str(binary)], check=True, capture_output=True).stdout.decode("utf-8")
    assert out.split("|")[:-1] == model.classes == sorted(EVIL)
    # and the example program still classifies a clip as the model does
    example = tmp_path / "evil_example.c"
    subprocess.run([compiler, "-O2", "-std=c99", "-I", emlearn.includedir, "-o", str(tmp_path / "classify"), str(example), "-lm"],
                   check=True, capture_output=True)
    clip = sorted(data.glob("*.flac"))[0]
    y, _ = load(clip, sr=22050)
    y.astype("<f4").tofile(tmp_path / "clip.f32")
    label = subprocess.run([str(tmp_path / "classify"), str(tmp_path / "clip.f32")], check=True, capture_output=True).stdout
    assert label.decode("utf-8").rsplit(",", 2)[0] == model.predict(clip)[0].label
