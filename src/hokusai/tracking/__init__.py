"""Everything that talks to MLflow: tracking target, runs, artifacts, models and the registry."""

from hokusai.tracking.target import TrackingTarget, resolve_tracking

__all__ = ["TrackingTarget", "resolve_tracking"]
