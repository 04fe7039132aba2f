"""The package's structure holds: imports point one way (the layer contract in pyproject.toml) and no two
sibling modules import each other, directly or around a circle (import-linter on the real import graph,
type-only imports under ``if TYPE_CHECKING:`` included: a circle through them is still a circle)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_in_pyproject_hold() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    checked = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 kept, 0 broken" in checked.stdout


def test_mypy_with_the_pydantic_plugin_finds_no_error_in_the_package(tmp_path: Path) -> None:
    """``[tool.mypy]`` in pyproject.toml: the whole of src/hokusai, the pydantic plugin, no unused ignores."""
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert "Success: no issues found" in checked.stdout


def _commits_of_a_handed_session(tree: ast.AST) -> list[int]:
    """Lines where a function commits a session it was given (a parameter named ``session``)."""
    lines = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if "session" not in [a.arg for a in function.args.args + function.args.kwonlyargs]:
            continue
        for node in ast.walk(function):
            call = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(call, ast.Attribute)
                and call.attr == "commit"
                and isinstance(call.value, ast.Name)
                and call.value.id == "session"
            ):
                lines.append(node.lineno)
    return lines


def test_services_and_auth_never_commit_a_session_they_were_handed() -> None:
    """The transaction rule (docs/architecture.md): whoever opens a session commits it; a function that is
    handed one (every service) never does, so a route, the worker or a CLI command commits all or nothing."""
    server = ROOT / "src" / "hokusai" / "server"
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("services", "auth")
        for path in sorted((server / folder).glob("*.py"))
        for line in _commits_of_a_handed_session(ast.parse(path.read_text()))
    }
    assert not found, sorted(found)


def test_the_rule_check_sees_a_commit_of_a_handed_session() -> None:
    source = "def f(session):\n    session.add(1)\n    session.commit()\n\ndef g(db):\n    db.commit()\n"
    assert _commits_of_a_handed_session(ast.parse(source)) == [3]
