"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def data_root() -> Path:
    root = Path(os.environ.get("EARMARK_DATA", "../shared/data"))
    if not (root / "esc10").is_dir():
        raise SystemExit(f"shared data not found under {root}; set EARMARK_DATA")
    return root


def machine() -> str:
    import torch

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def work_args(doc: str, add=None):
    """The arguments every dataset benchmark takes (``--work``, ``--cache-dir``, ``--json``) plus ``add(parser)``'s,
    parsed; the work folder made. Returns ``(args, data root, work folder, cache folder)``."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    if add is not None:
        add(ap)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    return args, data_root(), args.work, args.cache_dir or args.work / "cache"
