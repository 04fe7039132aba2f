"""Every evaluation option's default is written once in the source (``pipeline/options.py``): the API
body, the CLI flags, the preview, ``PipelineSpec`` and the benchmark spec all read it from there."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

import hokusai
from hokusai.pipeline.options import DEFAULTS, EvaluationOptions

SOURCE = Path(hokusai.__file__).parent
# Migrations freeze the values of their day on purpose (they never import the code's models).
FROZEN = SOURCE / "server" / "db" / "migrations"
WITH_DEFAULTS = {
    name: getattr(DEFAULTS, name)
    for name in EvaluationOptions.model_fields
    if isinstance(getattr(DEFAULTS, name), (int, float)) and not isinstance(getattr(DEFAULTS, name), bool)
}


def _constant(node: ast.AST | None) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value  # Field(42, …), typer.Option(42, …)
    return None


def _written_defaults(tree: ast.AST) -> list[tuple[str, object]]:
    """(name, constant) for every place a name gets a literal value: annotated or plain assignments,
    function defaults, keyword arguments and dict entries."""
    found: list[tuple[str, object]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.append((node.target.id, _constant(node.value)))
        elif isinstance(node, ast.Assign):
            found += [(t.id, _constant(node.value)) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            found += [(arg.arg, _constant(default)) for arg, default in pairs]
        elif isinstance(node, ast.keyword) and node.arg:
            found.append((node.arg, _constant(node.value)))
        elif isinstance(node, ast.Dict):
            found += [
                (key.value, _constant(value))
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            ]
    return found


def test_the_options_with_numeric_defaults_are_the_ones_checked() -> None:
    assert {"seed", "threshold", "min_benchmark_rows"} <= set(WITH_DEFAULTS)


@pytest.mark.parametrize("name", sorted(WITH_DEFAULTS))
def test_every_default_appears_once_in_the_source(name: str) -> None:
    default = WITH_DEFAULTS[name]
    places: Counter[str] = Counter()
    for path in SOURCE.rglob("*.py"):
        if FROZEN in path.parents:
            continue
        for written, value in _written_defaults(ast.parse(path.read_text(), str(path))):
            if written in (name, f"{name}_pp") and type(value) in (int, float) and value == default:
                places[str(path.relative_to(SOURCE))] += 1
    assert places == Counter({"pipeline/options.py": 1}), places
