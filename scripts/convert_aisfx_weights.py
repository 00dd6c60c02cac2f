"""Convert the aiSFX checkpoint shipped in the ``aisfx==0.1.2`` wheel to safetensors.

Run once by a maintainer; the result is committed as
``src/earmark/embeddings/weights/aisfx.safetensors``::

    pip download --no-deps -d /tmp/aisfx aisfx==0.1.2
    python -m zipfile -e /tmp/aisfx/aisfx-0.1.2-py2.py3-none-any.whl /tmp/aisfx/x
    python scripts/convert_aisfx_weights.py /tmp/aisfx/x/aisfx/models/checkpoint.pth

The checkpoint is a pickle, read with ``weights_only=True`` and only three
numpy globals allow-listed, so no arbitrary code runs even here. Only the
embedding network is kept (the per-dataset classifier heads are dropped), and
``num_batches_tracked`` counters are dropped (unused in eval mode).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[1] / "src/earmark/embeddings/weights/aisfx.safetensors"
PREFIX = "embedding_net."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    allowed = [
        numpy.dtype,
        numpy.dtypes.Int64DType,
        (numpy._core.multiarray.scalar, "numpy.core.multiarray.scalar"),
    ]
    with torch.serialization.safe_globals(allowed):
        weights, _datasets = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    state = {
        k[len(PREFIX):]: v.contiguous()
        for k, v in weights.items()
        if k.startswith(PREFIX) and not k.endswith("num_batches_tracked")
    }
    metadata = {
        "source": "aisfx==0.1.2 (PyPI), aisfx/models/checkpoint.pth, model X-Sequential-CE",
        "license": "CC-BY-4.0",
        "copyright": "(c) 2022 A.B. Ma and A. Lerch",
        "paper": "Representation Learning for the Automatic Indexing of Sound Effects Libraries, ISMIR 2022",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    save_file(state, str(tmp), metadata=metadata)
    tmp.replace(args.out)
    print(f"wrote {len(state)} tensors, {sum(v.numel() for v in state.values())} values to {args.out}")


if __name__ == "__main__":
    main()
