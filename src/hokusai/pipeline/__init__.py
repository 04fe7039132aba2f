"""The evaluation pipeline: ``run_pipeline(spec, settings, progress=...) -> PipelineResult``.

The names load on first use (PEP 562), so importing a light submodule (``pipeline.options``, which the
CLI builds its flags from) does not import the whole pipeline.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Contribution", "PipelineResult", "PipelineSpec", "ProgressEvent", "run_pipeline"]
_WHERE = {"run_pipeline": "hokusai.pipeline.run", **dict.fromkeys(__all__[:4], "hokusai.pipeline.spec")}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hokusai.pipeline' has no attribute {name!r}")
