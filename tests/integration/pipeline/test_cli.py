"""The command line: the demo from scratch with no server, verify and its tampered copies, preview."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from hokusai.attestation.content import hash_tree_root, public_inputs_hash
from hokusai.attestation.signing import Signer
from hokusai.cli import main
from tests.integration.pipeline.conftest import TARGET, WALLET_A, Case
from tests.support.net import free_port


def _hokusai(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@dataclass(frozen=True)
class Demo:
    out: Path

    @property
    def attestation(self) -> Path:
        return self.out / "attestation.json"

    def tampered(self, name: str, change) -> Path:  # type: ignore[no-untyped-def]
        document = json.loads(self.attestation.read_text())
        change(document)
        path = self.out / f"{name}.json"
        path.write_text(json.dumps(document))
        return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``hokusai pipeline demo`` once, on a fresh data dir with no MLflow server running."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOKUSAI_DATA_DIR", str(root / "state"))
        patch.setenv("HOKUSAI_MLFLOW_PORT", str(free_port()))
        patch.delenv("HOKUSAI_SIGNER_KEY", raising=False)
        patch.delenv("HOKUSAI_TRACKING_URI", raising=False)
        try:
            main(["pipeline", "demo", "--out", str(root / "out")])
        except SystemExit as exc:
            pytest.fail(f"demo exited with {exc.code}")
        yield Demo(root / "out")


def test_demo_runs_without_a_server_and_prints_an_accepted_delta_one_with_its_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOKUSAI_MLFLOW_PORT", str(free_port()))
    code, out, err = _hokusai(["pipeline", "demo"], capsys)
    assert code == 0, err
    assert "accepted" in out
    assert "auroc gain" in out and "95 % CI [+" in out
    assert "registered" in out and "models:/hokusai-demo-breast-cancer/2" in out
    assert "attestation.json" in out and "roc_curves.png" not in out  # folders listed, not every file
    files = [line.strip() for line in out.splitlines() if line.strip().endswith("attestation.json")]
    assert files and Path(files[0]).is_file()  # the path is printed whole, on a line of its own
    assert any(len(word) == 42 and word.startswith("0x") for word in out.split())  # the wallet, uncut
    assert (tmp_path / "state" / "cli" / "mlflow.db").is_file()  # recorded in the CLI's own store
    assert not (tmp_path / "state" / "mlflow.db").exists()  # never in the platform's
    assert "✓ record" in err


def test_verify_passes_on_the_demo_attestation(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _hokusai(["attest", "verify", str(demo.attestation)], capsys)
    assert code == 0, out
    assert "VALID" in out and "FAILED" not in out


@pytest.mark.parametrize(
    ("name", "change", "failed_check"),
    [
        ("metric", lambda d: d["evaluation_results"]["new_metrics"].update(auroc=0.9999), "hash_tree_root"),
        ("weight", lambda d: d["contributors"][0].update(weight=0.5), "public_inputs_hash"),
        ("score", lambda d: d["delta_computation"].update(delta_one_score=42.0), "public_inputs_hash"),
    ],
)
def test_verify_fails_on_a_tampered_copy_and_names_the_check(
    demo: Demo,
    capsys: pytest.CaptureFixture[str],
    name: str,
    change,
    failed_check: str,  # type: ignore[no-untyped-def]
) -> None:
    tampered = demo.tampered(name, change)
    code, out, _ = _hokusai(
        ["attest", "verify", str(tampered), "--report", str(demo.out / "evaluation_report.json"), "--json"],
        capsys,
    )
    assert code == 1
    verdict = json.loads(out)
    assert not verdict["valid"]
    assert failed_check in [c["name"] for c in verdict["checks"] if not c["ok"]]


def test_verify_fails_when_another_key_signed(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    report = json.loads((demo.out / "evaluation_report.json").read_text())
    other = Signer(Account.create())

    def resign(document: dict) -> None:
        root = hash_tree_root(document, report)
        inputs = public_inputs_hash(document, root)
        run_id = document["metadata"]["pipeline_run_id"]
        document["attestation"].update(
            signature_blob=other.sign(run_id, root, inputs), verification_key=other.address
        )

    forged = demo.tampered("forged", resign)
    code, out, _ = _hokusai(
        ["attest", "verify", str(forged), "--report", str(demo.out / "evaluation_report.json"), "--json"],
        capsys,
    )
    assert code == 1
    failed = [c for c in json.loads(out)["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["signer"]
    assert other.address in failed[0]["reason"]


def test_verify_checks_data_files_against_the_attested_hashes(
    demo: Demo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("a,b\n1,2\n")
    contribution = demo.out.parent / "state" / "demo" / "contribution.csv"
    code, out, _ = _hokusai(
        ["attest", "verify", str(demo.attestation), "--data", str(contribution), "--json"], capsys
    )
    assert code == 0, out
    code, out, _ = _hokusai(
        ["attest", "verify", str(demo.attestation), "--data", str(stranger), "--json"], capsys
    )
    assert code == 1
    assert [c["name"] for c in json.loads(out)["checks"] if not c["ok"]] == ["data:stranger.csv"]


def test_verify_of_a_file_that_is_not_json_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, err = _hokusai(["attest", "verify", str(broken), "--signer", WALLET_A], capsys)
    assert code == 2
    assert err.startswith("error: attestation") and err.count("\n") == 1


def test_preview_is_labelled_an_estimate_and_neither_attests_nor_records(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOKUSAI_MLFLOW_PORT", str(free_port()))
    args = [
        "preview", "--baseline", str(case.baseline_dir), "--train", str(case.train),
        "--benchmark", str(case.benchmark), "--contribution", str(case.good), "--target", TARGET,
        "--sample", "500", "--out", str(tmp_path / "preview"),
    ]  # fmt: skip
    code, out, err = _hokusai(args, capsys)
    assert code in (0, 1), err
    assert "ESTIMATE" in out
    assert sorted(p.name for p in (tmp_path / "preview").iterdir()) == [
        "baseline_model",
        "evaluation_report.json",
        "model",
        "plots",
    ]
    report = json.loads((tmp_path / "preview" / "evaluation_report.json").read_text())
    assert report["kind"] == "preview_estimate"
    assert report["samples"]["benchmark_rows"] == 500
    assert not (tmp_path / "state" / "mlflow.db").exists()
    assert not (tmp_path / "state" / "cli" / "mlflow.db").exists()
    assert not (tmp_path / "state" / "keys").exists()  # nothing signed


def test_json_output_is_one_object_when_recording_on_a_server(
    case: Case,
    server_settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("HOKUSAI_DATA_DIR", str(server_settings.data_dir))
    monkeypatch.setenv("HOKUSAI_TRACKING_URI", str(server_settings.tracking_uri))
    args = [
        "pipeline", "run", "--baseline", str(case.baseline_dir), "--train", str(case.train),
        "--benchmark", str(case.benchmark), "--contribution", str(case.good), "--contributor", WALLET_A,
        "--target", TARGET, "--no-register", "--out", str(case.root / "out"), "--json",
    ]  # fmt: skip
    code, out, err = _hokusai(args, capsys)
    assert code == 0, err
    printed = json.loads(out)
    assert printed["outcome"] == "accepted" and printed["mlflow_run_id"]
    assert printed["attestation_id"] == printed["pipeline_run_id"]
    assert Path(printed["attestation_path"]).is_file() and Path(printed["report_path"]).is_file()


def test_contributions_and_contributors_must_pair_up(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "pipeline", "run", "--baseline", str(case.baseline_dir), "--train", str(case.train),
        "--benchmark", str(case.benchmark), "--contribution", str(case.good),
        "--contribution", str(case.other), "--contributor", WALLET_A, "--target", TARGET,
    ]  # fmt: skip
    code, _, err = _hokusai(args, capsys)
    assert code == 2
    assert "2 --contribution and 1 --contributor given" in err


def test_a_wallet_with_a_wrong_checksum_is_refused(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = WALLET_A.replace("B", "b", 1)  # mixed case with a broken EIP-55 checksum
    args = [
        "pipeline", "run", "--baseline", str(case.baseline_dir), "--train", str(case.train),
        "--benchmark", str(case.benchmark), "--contribution", str(case.good), "--contributor", wrong,
        "--target", TARGET,
    ]  # fmt: skip
    code, _, err = _hokusai(args, capsys)
    assert code == 2
    assert "checksum" in err
