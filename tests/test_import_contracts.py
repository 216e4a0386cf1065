"""The import contracts in .importlinter hold (so plain `pytest` catches a broken one), and
the checker really checks: a contract we know to be false is reported broken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_import_contracts_hold() -> None:
    run = _lint(str(ROOT / ".importlinter"))
    assert run.returncode == 0, f"lint-imports failed:\n{run.stdout}\n{run.stderr}"
    assert "0 broken" in run.stdout, run.stdout


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    # The muting store talks to the database, so "it imports no SQLAlchemy" is false.
    config = tmp_path / "false.ini"
    config.write_text(
        "[importlinter]\nroot_package = vigil\ninclude_external_packages = True\n\n"
        "[importlinter:contract:false]\nname = The muting store imports no SQLAlchemy\n"
        "type = forbidden\nsource_modules =\n    vigil.muting.store\n"
        "forbidden_modules =\n    sqlalchemy\n")
    run = _lint(str(config))
    assert run.returncode != 0, run.stdout
    assert "BROKEN" in run.stdout and "vigil.muting.store" in run.stdout, run.stdout
