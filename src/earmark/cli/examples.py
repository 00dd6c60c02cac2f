"""An example or two for each command's ``--help`` (shown after its options, and in the CLI reference).

``data/demo`` is the repository's demo data set (80 ESC-10 clips in class folders under ``train/``, two unseen
clips); the other paths stand for the user's own files.
"""

EXAMPLES = {
    "train": ["earmark train data/demo/train --out demo.earmark",
              "earmark train my_clips/ --model sbcnn --augment pitch,noise --out sounds.earmark",
              "earmark train my_clips/ --unlabelled field_recordings/ --out sounds.earmark",
              'earmark train esc10/ --model "ensemble[members=logreg@aisfx, finetune:aisfx; combine=stack]" --out best.earmark'],
    "evaluate": ["earmark evaluate data/demo/train --cv 4 --report report/",
                 "earmark evaluate esc10/ --folds fold --embedder aisfx --classifier logreg --json esc10.json"],
    "curve": ["earmark curve data/demo/train --embedders mfcc,aisfx --shots 1,2,4 --cv 4 --report curve/",
              "earmark curve esc10/ --folds fold --models logreg --shots 2,4,8 --unlabelled"],
    "compare": ["earmark compare data/demo/train --embedders mfcc,aisfx --models logreg,knn --cv 4",
                'earmark compare esc10/ --folds fold --models "ensemble[members=logreg@aisfx, svm@speech]"'],
    "models": ["earmark models"],
    "embedders": ["earmark embedders"],
    "mix": ["earmark mix --backgrounds ambience/ --events calls/ --split train=36,test=100 --out mixtures/"],
    "fetch": ["earmark fetch esc10 --to data/                # ESC-10 from ESC-50's official archive, checked",
              "earmark fetch fsdd --to data/ --url https://mirror.example/fsdd.tar.gz --sha256 HEX"],
    "predict": ["earmark predict demo.earmark data/demo/unseen",
                "earmark predict sounds.earmark new_clips/ --top-k 2 --format csv --out predictions.csv"],
    "detect": ["earmark detect demo.earmark field_recording.flac --format raven --out events/"],
    "listen": ["earmark listen demo.earmark                    # the default microphone",
               "earmark listen commands.earmark --keywords yes,stop --input talk.wav"],
    "enroll": ["earmark enroll alice alice_clips/ --db voices/"],
    "identify": ["earmark identify voices/ meeting_clips/"],
    "verify": ["earmark verify voices/ alice door_recordings/"],
    "evaluate-kws": ["earmark evaluate-kws commands.earmark speech_commands/ --keywords yes,stop --background noise/ --test-fold 5"],
    "index": ["earmark index recordings/ --store store/"],
    "search": ["earmark search store/ --like dawn.flac@12-15 -k 10",
               "earmark search store/ --model birds.earmark --label wren"],
    "cluster": ["earmark cluster store/"],
    "label": ["earmark label store/ --model birds.earmark --out to_label.csv"],
    "map": ["earmark map store/ --out map.html"],
    "export": ["earmark export demo.earmark --out demo.onnx",
               "earmark export demo.earmark --format c --out demo.h"],
    "bench": ["earmark bench demo.earmark"],
    "serve": ["earmark serve demo.earmark                      # then open http://127.0.0.1:8000"],
}


def epilog(name: str) -> str:
    """The examples of command ``name`` as a help epilog (``\\b`` keeps click from rewrapping the lines)."""
    return "\b\nExamples:\n" + "\n".join(f"  $ {line}" for line in EXAMPLES[name])
