"""The fenced code blocks of the documentation, and how the docs test treats each one.

Every fence must name its language. Shell (``sh``, ``bash``, ``shell``, ``console``) and Python blocks are
run by ``tests/integration/docs`` unless the line right above them is a marker with its reason,
``<!-- not-run: needs a real AWS account -->``. Any other language (``text``, ``json``, ``yaml``…) is
shown, never run. The fences are found with markdown-it (the CommonMark parser rich already brings), so
a fence inside a list item or an indented one counts like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[2]
PAGES = ("README.md", "docs/*.md", "infrastructure/README.md")
KINDS = {"sh": "shell", "bash": "shell", "shell": "shell", "console": "shell", "python": "python"}
MARKER = re.compile(r"\A<!--\s*not-run:(?P<reason>.*?)-->\s*\Z", re.S)
PROMPT = "$ "


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its text and, when it is not run, why."""

    page: str
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    not_run: str | None = None

    @property
    def kind(self) -> str | None:
        """``shell`` or ``python`` for the blocks the docs test runs, else None."""
        return KINDS.get(self.language)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    def commands(self) -> str:
        """What a reader pastes: a ``console`` block with ``$ `` prompts gives only the prompted lines."""
        lines = self.code.splitlines()
        if self.language == "console" and any(line.startswith(PROMPT) for line in lines):
            lines = [line[len(PROMPT) :] for line in lines if line.startswith(PROMPT)]
        return "\n".join(lines) + "\n"


def pages(root: Path = REPO) -> list[str]:
    """The documentation pages, relative to ``root``, in reading order (README first)."""
    found: list[str] = []
    for pattern in PAGES:
        found += sorted(str(path.relative_to(root)) for path in root.glob(pattern))
    return found


def blocks(page: str, root: Path = REPO) -> list[Block]:
    """The fenced blocks of ``page``; a ``ValueError`` names each block that breaks the rules above."""
    tokens = MarkdownIt("commonmark").parse((root / page).read_text(encoding="utf-8"))
    found, problems = [], []
    for index, token in enumerate(tokens):
        if token.type == "html_block" and MARKER.match(token.content.strip()):
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is None or following.type != "fence" or KINDS.get(_language(following)) is None:
                problems.append(f"{page}:{_line(token)}: a not-run marker must sit right above a shell or "
                                "Python block")  # fmt: skip
        if token.type != "fence":
            continue
        language, reason = _language(token), None
        previous = tokens[index - 1] if index else None
        if previous is not None and previous.type == "html_block":
            marker = MARKER.match(previous.content.strip())
            if marker is not None:
                reason = " ".join(marker.group("reason").split())
                if not reason:
                    problems.append(f"{page}:{_line(token)}: the not-run marker gives no reason")
        if not language:
            problems.append(f"{page}:{_line(token)}: a fence without a language: name it (sh, python, text…)")
        found.append(Block(page, _line(token), language, token.content, reason))
    if problems:
        raise ValueError("\n".join(problems))
    return found


def _language(token: object) -> str:
    info = getattr(token, "info", "") or ""
    return info.split()[0].lower() if info.strip() else ""


def _line(token: object) -> int:
    line_map = getattr(token, "map", None)
    return line_map[0] + 1 if line_map else 0
