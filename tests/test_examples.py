"""Every example in examples/ runs to completion with its smallest setting, and its files are non-empty."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TIMEOUT = 300


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = TIMEOUT) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", **(env or {})}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{output[-6000:]}"
    return output


def python_example(name: str, *args: str, cwd: Path) -> str:
    return run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd)


def assert_non_empty(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > 0, f"{path} is empty"


def zoo_available() -> bool:
    try:
        return importlib.util.find_spec("sb3_hlgauss.zoo.__main__") is not None
    except ImportError:
        return False


def sac_available() -> bool:
    import sb3_hlgauss

    return hasattr(sb3_hlgauss, "HLGaussSAC")


def test_every_example_is_tested():
    """A new example must get a test here."""
    tested = {
        "swap_dqn_sac.py", "compare_losses.py", "custom_loss.py", "my_losses.py", "atari_hlgauss.py",
        "zoo_workflow.sh",
    }
    present = {path.name for path in EXAMPLES.iterdir() if path.suffix in (".py", ".sh")}
    assert present <= tested, f"untested examples: {sorted(present - tested)}"


def test_swap_dqn_sac(tmp_path):
    output = python_example("swap_dqn_sac.py", "--timesteps", "300", "--out-dir", str(tmp_path), cwd=tmp_path)
    assert "train/target_clip_fraction" in output and "train/q_mean" in output
    assert_non_empty(tmp_path / "hlgauss_dqn_hl_gauss.zip")
    assert_non_empty(tmp_path / "dqn_hl_gauss_logs" / "progress.csv")
    if sac_available():
        assert_non_empty(tmp_path / "hlgauss_sac_hl_gauss.zip")
    else:
        assert "[sac] skipped" in output


@pytest.mark.parametrize("loss", ["two_hot", "c51"])
def test_swap_dqn_other_losses(tmp_path, loss):
    python_example("swap_dqn_sac.py", "--timesteps", "300", "--algo", "dqn", "--loss", loss,
                   "--out-dir", str(tmp_path), cwd=tmp_path)
    assert_non_empty(tmp_path / f"hlgauss_dqn_{loss}.zip")


def test_compare_losses(tmp_path):
    png = tmp_path / "curves" / "learning_curves.png"
    output = python_example("compare_losses.py", "--timesteps", "400", "--seeds", "1",
                            "--losses", "huber,mse,hl_gauss,two_hot,c51", "--output", str(png), cwd=tmp_path)
    for loss in ("huber", "mse", "hl_gauss", "two_hot", "c51"):
        assert f"{loss}: mean training return" in output
    assert_non_empty(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_custom_loss(tmp_path):
    output = python_example("custom_loss.py", "--timesteps", "300", "--out-dir", str(tmp_path), cwd=tmp_path)
    assert "hl_laplace" in output
    assert_non_empty(tmp_path / "hl_laplace_dqn.zip")
    if zoo_available():
        assert list((tmp_path / "zoo_logs").rglob("*.zip")), "the zoo run saved no model"
    else:
        assert "[zoo] skipped" in output


def test_custom_loss_math():
    """The user's Laplace loss is a proper target distribution whose expectation tracks the target."""
    import torch as th

    sys.path.insert(0, str(EXAMPLES))
    try:
        import my_losses  # noqa: F401
    finally:
        sys.path.remove(str(EXAMPLES))
    from sb3_hlgauss import make_loss

    loss = make_loss("hl_laplace", v_min=-10, v_max=10, num_bins=51, scale_ratio=0.5)
    targets = th.linspace(-8, 8, 33)
    probs = loss.to_probs(targets)
    assert th.all(probs >= 0)
    assert th.allclose(probs.sum(-1), th.ones(33), atol=1e-5)
    assert th.allclose(loss.to_value(probs.log()), targets, atol=0.05)
    with pytest.raises(ValueError):
        make_loss("hl_laplace", sigma_ratio=0.75)  # not a parameter of this loss


def test_atari(tmp_path):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    model = tmp_path / "models" / "pong.zip"
    python_example("atari_hlgauss.py", "--timesteps", "200", "--eval-episodes", "0", "--output", str(model),
                   cwd=tmp_path)
    assert_non_empty(model)


@pytest.mark.slow
def test_zoo_workflow(tmp_path):
    if not zoo_available():
        pytest.skip("sb3_hlgauss.zoo is not available")
    env = {
        "TIMESTEPS": "600",
        "N_TRIALS": "2",
        "LOG_DIR": str(tmp_path / "logs"),
        "PYTHON": sys.executable,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    output = run(["bash", str(EXAMPLES / "zoo_workflow.sh")], cwd=ROOT, env=env, timeout=900)
    assert "trials, 2 finished" in output and "Best trial:" in output and "Trials per worker" in output
    assert (tmp_path / "logs" / "study_plots" / "optimization_history.png").is_file()
    assert list((tmp_path / "logs" / "hlgauss_dqn").rglob("*.zip")), "no trained model"
    assert list((tmp_path / "logs" / "tuned" / "hlgauss_dqn").rglob("*.zip")), "no model trained with the best trial"
    assert list((tmp_path / "logs" / "tuned" / "hlgauss_dqn").rglob("trial.yml")), "the retrained trial is not recorded"
    for worker in (1, 2):
        log = (tmp_path / "logs" / f"worker{worker}.log").read_text()
        assert "Traceback" not in log, log[-3000:]
