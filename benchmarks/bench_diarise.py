"""Who speaks when, measured: diarisation error rate on conversations of speakers never trained on (issue 26, part 4).

    python benchmarks/bench_diarise.py [--conversations 5] [--duration-s 60] [--cache-dir DIR] [--json out.json]

speech_commands_dev's five speaker-disjoint folds. For each fold, the fold's speakers (never seen in training) talk:
``--conversations`` conversations of ``--duration-s`` seconds each, three speakers each (drawn among the fold's
speakers with at least 6 clips), built by :mod:`earmark.data.conversations` (turns of 1-3 words, pauses of 0.2-1 s,
one turn in ten overlapping the last by 0.1-0.4 s; reference boundaries from each clip's active part). Each
participant is enrolled with 3 clips that are not in the conversation. Two encoders: the ``speaker`` embedder
(Resemblyzer) as it is, and a ``metric`` model trained on the other four folds' speakers; each one's acceptance
threshold is the equal-error-rate threshold of trials among the other folds' speakers (what ``enroll --calibrate``
sets). ``earmark.inference.voices.diarise`` (what ``earmark detect VOICE_DB`` runs) gives the events; scored by
pyannote.metrics: DER (labels mapped one to one) and IER (names as they are), with NIST's 0.25-s collar on each side
of every reference boundary and without, overlap scored.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from _common import data_root, machine

from earmark.audio import load
from earmark.data.conversations import ConversationSettings, active_part, plan_conversation, render
from earmark.embeddings import EmbeddingCache
from earmark.evaluation.diarisation import diarisation_errors
from earmark.inference.detect import DetectionSettings
from earmark.inference.voices import Encoder, VoiceDB, diarise

SR = 16000
ENROL = 3
PARTICIPANTS = 3


def _metric_model(rows, root: Path, work: Path, cache_dir) -> Path:
    """A ``metric`` model trained on ``rows``' speakers (the other folds), saved to ``work``."""
    import earmark

    table = work / "train.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filename", "speaker"])
        for r in rows:
            w.writerow([str((root / r["filename"]).resolve()), r["speaker"]])
    model = earmark.train(table, model="metric", embedder="speaker", label_column="speaker", cache_dir=cache_dir)
    return model.save(work / "metric.earmark")


def _conversations(test_rows, root: Path, rng, settings: ConversationSettings, n: int):
    """``n`` plans: participants, their enrolment clips, the words and reference turns."""
    by_speaker: dict[str, list[Path]] = {}
    for r in test_rows:
        by_speaker.setdefault(r["speaker"], []).append(root / r["filename"])
    eligible = sorted(s for s, clips in by_speaker.items() if len(clips) >= ENROL + 3)
    audio = {}
    out = []
    for _ in range(n):
        people = [str(s) for s in rng.choice(eligible, PARTICIPANTS, replace=False)]
        enrol, talk = {}, {}
        for s in people:
            clips = list(rng.permutation(by_speaker[s]))
            enrol[s] = clips[:ENROL]
            for p in clips[ENROL:]:
                if p not in audio:
                    audio[p] = active_part(load(p, sr=SR)[0], SR)
            talk[s] = [(p, audio[p]) for p in clips[ENROL:]]
        words, turns = plan_conversation(talk, SR, rng, settings)
        out.append((people, enrol, words, turns))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conversations", type=int, default=5, help="per fold")
    ap.add_argument("--duration-s", type=float, default=60.0)
    ap.add_argument("--folds", default="1,2,3,4,5")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print(f"# who speaks when; {machine()}", flush=True)
    t_all = time.perf_counter()
    root = data_root() / "speech_commands_dev"
    rows = [r for r in csv.DictReader(open(root / "metadata.csv")) if r["speaker"]]
    cache = EmbeddingCache(args.cache_dir)
    settings = ConversationSettings(duration_s=args.duration_s)
    rng = np.random.default_rng(26)
    results: dict[str, list[dict]] = {}
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for fold in args.folds.split(","):
            train_rows = [r for r in rows if r["fold"] != fold]
            test_rows = [r for r in rows if r["fold"] == fold]
            plans = _conversations(test_rows, root, rng, settings, args.conversations)
            encoders = {"speaker (Resemblyzer) as it is": Encoder(embedder="speaker"),
                        "metric (trained on the other folds)": Encoder(model_path=_metric_model(train_rows, root, work, args.cache_dir))}
            for name, encoder in encoders.items():
                used, vectors, _ = encoder.encode([root / r["filename"] for r in train_rows], cache)
                speaker_of = {root / r["filename"]: r["speaker"] for r in train_rows}
                for k, (people, enrol, words, turns) in enumerate(plans):
                    db = VoiceDB(work / f"db-{fold}-{k}", encoder.describe())
                    db.calibrate(vectors, [speaker_of[p] for p in used], "the other folds' speakers")
                    for s in people:
                        got, v, _ = encoder.encode(enrol[s], cache)
                        db.enrol(s, got, v)
                    wav = work / f"conversation-{fold}-{k}.wav"
                    sf.write(wav, render(words, SR, settings.duration_s), SR, subtype="FLOAT")
                    found = diarise(db, encoder, wav, settings=DetectionSettings(min_duration_s=0.2, merge_gap_s=0.3))
                    hyp = [(e.start_s, e.end_s, e.label) for e in found["events"]]
                    ref = [(t.start_s, t.end_s, t.speaker) for t in turns]
                    row = {"fold": fold, "conversation": k, "threshold": db.threshold,
                           "collar_0.25": diarisation_errors(ref, hyp, collar_s=0.25), "no_collar": diarisation_errors(ref, hyp, collar_s=0.0)}
                    results.setdefault(name, []).append(row)
                    if name.startswith("speaker"):
                        seconds += settings.duration_s
                    print(f"fold {fold} #{k} | {name} | DER {row['collar_0.25']['der']:.3f} (no collar {row['no_collar']['der']:.3f}) | "
                          f"IER {row['collar_0.25']['ier']:.3f} | {len(turns)} turns, {len(hyp)} events", flush=True)
    print(f"\n{len(next(iter(results.values())))} conversations, {seconds / 60:.1f} minutes, {PARTICIPANTS} speakers each, "
          "speakers never trained on")
    print("| encoder | DER, 0.25-s collar | DER, no collar | IER, 0.25-s collar | missed / false alarm / confusion (s, collar) |")
    print("| --- | --- | --- | --- | --- |")
    summary = {}
    for name, rs in results.items():
        def pooled(key, part):  # errors summed over conversations, over the summed reference speech
            return sum(r[key][part] for r in rs)
        der = {key: (pooled(key, "missed") + pooled(key, "false_alarm") + pooled(key, "confusion")) / pooled(key, "total")
               for key in ("collar_0.25", "no_collar")}
        ier = (pooled("collar_0.25", "missed") + pooled("collar_0.25", "false_alarm") + pooled("collar_0.25", "ier_confusion")) \
            / pooled("collar_0.25", "total")
        summary[name] = {"der": der["collar_0.25"], "der_no_collar": der["no_collar"], "ier": ier}
        print(f"| {name} | {der['collar_0.25']:.3f} | {der['no_collar']:.3f} | {ier:.3f} | {pooled('collar_0.25', 'missed'):.0f} / "
              f"{pooled('collar_0.25', 'false_alarm'):.0f} / {pooled('collar_0.25', 'confusion'):.0f} |")
    total = time.perf_counter() - t_all
    print(f"\nwall time {total:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "conversations": results, "minutes": seconds / 60, "seconds": total,
                       "machine": machine()}, f, indent=1)


if __name__ == "__main__":
    main()
