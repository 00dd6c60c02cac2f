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
