"""The import direction of ARCHITECTURE.md, checked on the source: a package imports only from its own layer or below."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "earmark"
LAYERS = [
    {"errors", "fileio", "progress", "threads", "scale"},
    {"audio"},
    {"features", "augment"},
    {"embeddings"},
    {"models"},
    {"persistence", "schema"},
    {"pipeline"},
    {"data", "evaluation", "inference", "export", "explore"},
    {"api"},
    {"cli", "console", "serve"},
]


def _layer(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part in names)


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("earmark."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("earmark."):
                    yield alias.name.split(".")[1], node.lineno
                if alias.name == "torch" or alias.name.startswith("torch."):
                    yield "torch", node.lineno


def test_imports_go_one_way():
    wrong = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue  # the package root re-exports the API
        own = rel.parts[0].removesuffix(".py")
        for target, line in _imports(path):
            if target == "torch":
                if own == "evaluation":
                    wrong.append(f"{rel}:{line} imports torch (torch never reaches evaluation/)")
                continue
            if _layer(target) > _layer(own):
                wrong.append(f"{rel}:{line} imports earmark.{target}, a later stage than {own}")
    assert not wrong, "\n".join(wrong)
