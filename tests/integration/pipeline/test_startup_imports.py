"""What a run imports, and when: the platform's worker started ahead has imported every library a run loads;
a fresh ``hokusai pipeline run`` imports eth-account only to sign, and the later steps' libraries on a
thread while the candidate trains (figures: docs/benchmarks.md, "Start-up of a run")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.integration.pipeline.conftest import SIGNER_KEY, TARGET, WALLET_A, Case
from tests.support.mlflow import MlflowServer


def _python(code: str, env: dict[str, str] | None = None) -> str:
    finished = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout.strip().splitlines()[-1]


def test_loading_the_pipeline_and_its_command_leaves_eth_account_to_the_signing_step() -> None:
    loaded = _python(
        """
        import sys
        import hokusai.cli.pipeline, hokusai.pipeline.run
        print(sorted(m for m in ("eth_account", "eth_keyfile", "py_ecc") if m in sys.modules))
        """
    )
    assert loaded == "[]"


def test_import_ahead_imports_on_a_thread_and_leaves_a_failed_import_to_its_step() -> None:
    seen = _python(
        """
        import sys
        from hokusai.pipeline.run import import_ahead
        import_ahead(("xml.dom.minidom", "no_such_module_anywhere", "json.tool")).join(10)
        again = import_ahead(("xml.dom.minidom",))
        print("xml.dom.minidom" in sys.modules, "json.tool" in sys.modules, again)
        """
    )
    assert seen == "True False None"  # imported; stopped at the failure without raising; nothing left to do


def test_a_worker_started_ahead_has_imported_every_library_a_run_loads(
    case: Case, mlflow_server: MlflowServer
) -> None:
    """The standby's ``STANDBY_PRELOAD`` against a real run: any installed distribution's package that the run
    still imports for the first time is import time the platform's worker pays inside the run."""
    env = {
        **os.environ,
        "HOKUSAI_DATA_DIR": str(case.root / "state"),
        "HOKUSAI_TRACKING_URI": mlflow_server.url,
        "HOKUSAI_SIGNER_KEY": SIGNER_KEY,
    }
    spec = {
        "baseline": str(case.baseline_dir), "train": str(case.train), "benchmark": str(case.benchmark),
        "contribution": str(case.good), "wallet": WALLET_A, "target": TARGET, "out": str(case.root / "out"),
    }  # fmt: skip
    new = _python(
        f"""
        import importlib, json, sys
        from importlib.metadata import packages_distributions
        from pathlib import Path
        from hokusai.server.worker import STANDBY_PRELOAD
        for name in STANDBY_PRELOAD:
            importlib.import_module(name)
        from hokusai.config import load_settings
        from hokusai.pipeline.run import run_pipeline
        from hokusai.pipeline.spec import Contribution, PipelineSpec
        s = json.loads({json.dumps(json.dumps(spec))})
        settings = load_settings()
        before = {{m.split(".")[0] for m in sys.modules}}
        result = run_pipeline(PipelineSpec(
            baseline=s["baseline"], train=Path(s["train"]), benchmark=Path(s["benchmark"]),
            contributions=(Contribution(Path(s["contribution"]), s["wallet"]),), target=s["target"],
            out_dir=Path(s["out"]),
        ), settings)
        assert result.attestation is not None  # it signed, so the signing libraries were needed
        installed = packages_distributions()
        print(json.dumps(sorted(m for m in {{m.split(".")[0] for m in sys.modules}} - before
                                if m in installed and m != "hokusai")))
        """,
        env,
    )
    assert json.loads(new) == [], new
