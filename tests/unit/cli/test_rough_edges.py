"""What the CLI, the SDK and the results pages print: numbers rounded as their units say, flags in the
user's words, a banner that is not wrapped mid-phrase, round chart ticks, legible confusion matrices and run
views without the server's paths."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import hokusai
from hokusai.cli import in_cli_words
from hokusai.cli.output import run_summary, signed
from hokusai.cli.up import BANNER_WIDTH, ready_banner
from hokusai.client import Client
from hokusai.errors import Unauthorized
from hokusai.server.services.runs import client_result
from hokusai.server.ui.charts import nice_ticks

STYLE = Path(hokusai.__file__).parent / "server" / "ui" / "static" / "style.css"


def test_a_delta_one_score_is_rounded_like_the_gain_beside_it(capsys: pytest.CaptureFixture[str]) -> None:
    result = {"gain": 1.591614906832295, "unit": "pp", "ci_low": 0.41234, "ci_high": 2.7777}
    run_summary({"id": "r1", "model": "m", "state": "succeeded", "delta_one_score": 1.591614906832295,
                 "result": result})  # fmt: skip
    out = capsys.readouterr().out
    assert "+1.59 pp [+0.41, +2.78]" in out and re.search(r"DeltaOne score\s+\+1\.59$", out, re.M), out
    assert "1.5916" not in out
    assert signed(0.012345, "rmse") == "+0.0123 rmse" and signed(None) is None


def test_server_errors_name_the_flags_the_user_typed() -> None:
    said = "give either source_uri (a logged MLflow model) or a model archive; body.target_column: required"
    assert (
        in_cli_words(said)
        == "give either --source (a logged MLflow model) or a model archive; --target: required"
    )


def test_the_sdk_names_where_a_refused_key_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOKUSAI_API_KEY", "hk_test_from_the_environment")
    client = Client(api_key="hk_test_given", url="http://127.0.0.1:9")
    assert client.key_source == "the api_key argument"
    import httpx

    refused = httpx.Response(401, json={"error": {"code": "invalid_key", "message": "no such key"}})
    with pytest.raises(Unauthorized, match=r"refused the API key \(the api_key argument\)"):
        client._explain_unauthorized(refused)
    assert Client(url="http://127.0.0.1:9").key_source == "HOKUSAI_API_KEY"


def test_the_ready_banner_fits_80_columns_without_wrapping_a_phrase() -> None:
    urls = {"api": "http://127.0.0.1:8001", "docs": "http://127.0.0.1:8001/docs", "mlflow": "x",
            "api_log": "/home/me/.hokusai/logs/api.log", "mlflow_log": "/home/me/.hokusai/logs/mlflow.log",
            "admin_key": "hk_live_abcdefghijkl_" + "x" * 40}  # fmt: skip
    lines = ready_banner(urls)
    buffer = io.StringIO()
    console = Console(file=buffer, width=BANNER_WIDTH, color_system=None)
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    printed = buffer.getvalue().splitlines()
    assert len(printed) == len(lines)  # nothing wrapped
    assert all(len(text) <= BANNER_WIDTH for text in printed), printed


@pytest.mark.parametrize(("low", "high"), [(0.9741, 0.9846), (-0.19, 2.3), (12.0, 12.0004), (-3.1, -0.4)])
def test_lineage_ticks_fall_on_round_values(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 5 and all(low <= t <= high for t in ticks)
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert any(abs(mantissa - nice) < 1e-6 for nice in (1, 2, 2.5, 5, 10)), ticks
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks), ticks


def test_confusion_matrices_are_legible_on_a_1280_px_page() -> None:
    """The run page's plots sit in a grid of 320 px minimum columns inside 76rem (1168 px of content at
    1280 px); a wide plot takes the whole row, up to its max-width. Every text of the confusion figure is
    at least 11 px as shown there."""
    from hokusai.evaluation import plots
    from hokusai.evaluation.metrics import Predictions, Task

    css = STYLE.read_text()
    assert ".plots figure.wide { grid-column: 1 / -1; }" in css
    shown = min(1168, int(re.search(r"\.plots figure\.wide img \{ max-width: (\d+)px; \}", css).group(1)))
    y = np.array([0, 1, 1, 0, 1])
    labels = Predictions(labels=y, scores=np.eye(2)[y])
    figure = plots.confusion_figure(y, labels, labels, Task((0, 1)))
    scale = shown / (figure.get_figwidth() * plots.DPI)
    sizes = [t.get_fontsize() for t in figure.findobj(lambda a: hasattr(a, "get_fontsize") and a.get_text())]
    assert sizes and min(sizes) * plots.DPI / 72 * scale >= 11, sizes


def test_a_run_view_carries_no_server_path_or_internal_url() -> None:
    stored = {"outcome": "accepted", "report_path": "/srv/hokusai/runs/x/report.json", "tracking_uri":
              "http://10.0.0.5:5000", "out_dir": "/srv/x", "gain": 1.0}  # fmt: skip
    assert client_result(stored) == {"outcome": "accepted", "gain": 1.0}
