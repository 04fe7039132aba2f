"""The evaluation pipeline: ``run_pipeline(spec, settings, progress=...) -> PipelineResult``."""

from hokusai.pipeline.run import run_pipeline
from hokusai.pipeline.spec import Contribution, PipelineResult, PipelineSpec, ProgressEvent

__all__ = ["Contribution", "PipelineResult", "PipelineSpec", "ProgressEvent", "run_pipeline"]
