"""The import rules of ARCHITECTURE.md, checked by import-linter on the source (contracts in pyproject.toml): the layers,
no import cycle among the modules of any package, torch kept out of evaluation/."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint(config: Path) -> int:
    """import-linter's exit code for ``config``, run in its own process: in this one its logging set-up (dictConfig)
    would silence every logger the later tests read."""
    import subprocess
    import sys

    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=300).returncode


def test_the_import_contracts_hold():
    assert _lint(ROOT / "pyproject.toml") == 0


def test_the_checker_reads_the_code_a_reversed_layer_order_breaks(tmp_path):
    config = tmp_path / "reversed.toml"
    config.write_text('[tool.importlinter]\nroot_package = "earmark"\n\n[[tool.importlinter.contracts]]\nname = "reversed"\n'
                      'type = "layers"\ncontainers = ["earmark"]\nlayers = ["audio", "api"]\n')
    assert _lint(config) == 1  # api imports audio, so a contract putting audio above api must fail
