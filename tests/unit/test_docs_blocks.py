"""The documentation's fences follow the docs test's rule: each names its language, and a shell or Python
block is either run (tests/integration/docs) or marked ``<!-- not-run: reason -->`` right above it."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from hokusai.cli import main
from tests.support.docs import REPO, Block, blocks, pages


def test_every_page_has_only_named_fences_and_reasoned_markers() -> None:
    for page in pages():
        blocks(page)  # raises naming every block that breaks the rule


def test_the_pages_are_the_readme_the_docs_and_the_operators_guide() -> None:
    found = pages()
    assert found[0] == "README.md" and "infrastructure/README.md" in found and "docs/pipeline.md" in found


def write(tmp_path: Path, text: str) -> str:
    (tmp_path / "page.md").write_text(text)
    return "page.md"


def test_a_fence_without_a_language_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"page.md:3: a fence without a language"):
        blocks(write(tmp_path, "# T\n\n```\nrm -rf /\n```\n"), root=tmp_path)


def test_a_marker_without_a_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gives no reason"):
        blocks(write(tmp_path, "<!-- not-run: -->\n```sh\nmake up\n```\n"), root=tmp_path)


def test_a_marker_away_from_a_runnable_block_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must sit right above a shell or Python block"):
        blocks(write(tmp_path, "<!-- not-run: AWS -->\n\ntext\n\n```sh\nmake up\n```\n"), root=tmp_path)


def test_a_marked_block_in_a_list_item_keeps_its_reason(tmp_path: Path) -> None:
    page = write(
        tmp_path,
        "- step:\n\n  <!-- not-run: needs a real\n  AWS account -->\n  ```bash\n  aws s3 ls\n  ```\n",
    )
    assert blocks(page, root=tmp_path) == [
        Block("page.md", 5, "bash", "aws s3 ls\n", "needs a real AWS account")
    ]


def test_console_blocks_with_prompts_give_only_the_commands(tmp_path: Path) -> None:
    (block,) = blocks(write(tmp_path, "```console\n$ hokusai --version\nhokusai 1.0\n```\n"), root=tmp_path)
    assert block.kind == "shell" and block.commands() == "hokusai --version\n"


def test_python_blocks_that_are_not_run_still_parse_and_import_what_they_name() -> None:
    """A renamed module or function breaks a not-run block too: its imports run here."""
    for page in pages():
        for block in blocks(page):
            if block.kind != "python" or block.not_run is None:
                continue
            tree = ast.parse(block.code, block.where)
            imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
            exec(compile(ast.Module(imports, type_ignores=[]), block.where, "exec"), {})


def test_the_operators_guide_makes_the_admin_key_of_the_form_it_documents(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = "infrastructure/README.md"
    lines = (REPO / guide).read_text().splitlines()
    (row,) = [line for line in lines if line.startswith("| `API_SECRET_KEY`")]
    documented = re.search(r"`(hk_\w+?_)<key_id>", row)
    assert documented is not None, row
    commands = [
        found.group(0)
        for block in blocks(guide)
        for found in re.finditer(r"hokusai keys generate[^|)\n]*", block.code)
    ]
    assert commands, "the guide shows no key command"
    monkeypatch.setenv("HOKUSAI_ENVIRONMENT", "development")  # an operator's machine
    for command in commands:  # every place the guide makes the key
        main(shlex.split(command)[1:])  # a failure raises SystemExit
        assert capsys.readouterr().out.splitlines()[0].startswith(documented.group(1)), command
