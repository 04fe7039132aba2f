"""``python -m hokusai``: the CLI (used by job runners, which need no console script on PATH)."""

from hokusai.cli import main

main()
