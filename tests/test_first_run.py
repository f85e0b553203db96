"""The first run (``bash scripts/main.sh``): its summary (scripts/_summary.py), the set-up stamp of
scripts/_env.sh, and the one-line error of ``python -m sb3_hlgauss.zoo`` without the zoo extra."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _block_modules_and_run(blocked: list[str], args: list[str]) -> subprocess.CompletedProcess:
    """``python -m sb3_hlgauss.zoo ARGS`` in an interpreter where the ``blocked`` modules cannot be imported."""
    code = (
        "import runpy, sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None\n"
        f"sys.argv = ['sb3_hlgauss.zoo', *{args!r}]\n"
        "runpy.run_module('sb3_hlgauss.zoo', run_name='__main__', alter_sys=True)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


@pytest.mark.parametrize("blocked", [["rl_zoo3"], ["optuna"], ["rl_zoo3", "optuna"]])
def test_a_missing_zoo_extra_is_one_line_naming_it(blocked: list[str]):
    result = _block_modules_and_run(blocked, ["train", "--env", "CartPole-v1"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert 'pip install -e ".[zoo]"' in lines[0] and blocked[0] in lines[0], lines[0]


def test_help_lists_our_algorithms():
    pytest.importorskip("rl_zoo3")
    result = subprocess.run([sys.executable, "-m", "sb3_hlgauss.zoo", "--help"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    for algo in ("hlgauss_dqn", "hlgauss_sac", "hlgauss_td3", "hlgauss_ppo", "hlgauss_a2c"):
        assert algo in result.stdout


def _load_summary():
    spec = importlib.util.spec_from_file_location("main_summary", ROOT / "scripts" / "_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_summary_evaluates_the_saved_agent_and_names_the_next_commands(tmp_path: Path, capsys):
    pytest.importorskip("rl_zoo3")
    from sb3_hlgauss import HLGaussDQN

    run = tmp_path / "logs" / "hlgauss_dqn" / "CartPole-v1_3"
    run.mkdir(parents=True)
    model = HLGaussDQN("MlpPolicy", "CartPole-v1", v_min=0.0, v_max=110.0, value_transform="identity",
                       buffer_size=1000, learning_starts=100, seed=0)
    model.learn(200)
    model.save(run / "CartPole-v1")
    summary = _load_summary()
    folder = str(tmp_path / "logs")
    assert summary.main(["--since", "0", "--episodes", "3", "--algo", "hlgauss_dqn", "--env", "CartPole-v1",
                         "-f", folder, "--seed", "0", "--eval-freq", "5000"]) == 0
    out = capsys.readouterr().out
    assert "hlgauss_dqn on CartPole-v1: final evaluation return" in out and "+-" in out
    assert "over 3 episodes" in out
    assert str(run / "CartPole-v1.zip") in out and "HLGaussDQN.load" in out
    assert f"python -m sb3_hlgauss.zoo enjoy --algo hlgauss_dqn --env CartPole-v1 -f {folder} --exp-id 3" in out
    assert "-optimize" in out
    # A run older than --since is not this run's: no evaluation of a stale model.
    assert summary.main(["--since", str(1e12), "-f", folder]) == 1
    assert "No model of hlgauss_dqn on CartPole-v1" in capsys.readouterr().out


def test_set_up_is_skipped_when_nothing_changed():
    """scripts/_env.sh installs only when its stamp (pyproject.toml, the version, the extras) changed."""
    text = (ROOT / "scripts" / "_env.sh").read_text()
    assert "SETUP_STAMP" in text and "pyproject.toml" in text and "pip install -q -e" in text
    main = (ROOT / "scripts" / "main.sh").read_text()
    assert "--progress --verbose 0" in main and "scripts/_summary.py" in main
    if os.name == "posix":
        assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "_env.sh")], check=False).returncode == 0
        assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "main.sh")], check=False).returncode == 0
