"""An ``MLmodel`` file is bounded before the API parses it, and only its string fields are used."""

from __future__ import annotations

from pathlib import Path

import pytest

from hokusai.errors import InvalidInput
from hokusai.tracking.models import MLMODEL_MAX_BYTES, inspect_model_dir
from tests.support.bombs import mlmodel_alias_bomb


def test_a_yaml_alias_bomb_in_mlmodel_is_refused_unexpanded(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(mlmodel_alias_bomb())
    with pytest.raises(InvalidInput, match="pickled_model is not a string") as refused:
        inspect_model_dir(tmp_path)
    assert refused.value.code == "bad_model_file"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("- a list\n", "not_a_classifier"),
        ("flavors: [1]\n", "not_a_classifier"),
        ("a: [\n", "bad_model_file"),
    ],
)
def test_an_mlmodel_that_is_not_a_mapping_is_a_clear_error(tmp_path: Path, content: str, code: str) -> None:
    (tmp_path / "MLmodel").write_text(content)
    with pytest.raises(InvalidInput) as refused:
        inspect_model_dir(tmp_path)
    assert refused.value.code == code


def test_an_mlmodel_over_its_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n" + "#" * MLMODEL_MAX_BYTES)
    with pytest.raises(InvalidInput, match="larger than"):
        inspect_model_dir(tmp_path)
