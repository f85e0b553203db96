"""The Python code blocks of README.md and docs/*.md run, so the documentation cannot rot.

Each fenced ```python block runs on its own, in a fresh interpreter, in a temporary directory, with
examples/ importable. A block preceded by the line ``<!-- skip-test -->`` is not run.
Blocks assert the numbers the text quotes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SKIP = "<!-- skip-test -->"
TIMEOUT = 240


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, code) of each python block of ``path`` not marked with SKIP."""
    text = path.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        if before and before[-1].strip() == SKIP:
            continue
        blocks.append((text.count("\n", 0, match.start()) + 1, match.group(1)))
    return blocks


CASES = [
    pytest.param(path, line, code, id=f"{path.relative_to(ROOT)}:{line}")
    for path in DOCUMENTS
    for line, code in python_blocks(path)
]


def test_blocks_are_found():
    assert any(case.values[0].name == "README.md" for case in CASES), "README.md has no python block"
    assert len(CASES) >= 5


def test_block_parser(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n```python\nx = 1\n```\n<!-- skip-test -->\n```python\nraise SystemExit(1)\n```\n"
        "```bash\nls\n```\n```python\ny = 2\n```\n"
    )
    assert python_blocks(doc) == [(2, "x = 1\n"), (12, "y = 2\n")]


@pytest.mark.parametrize("path, line, code", CASES)
def test_code_block_runs(path: Path, line: int, code: str, tmp_path: Path):
    script = tmp_path / "block.py"
    script.write_text(code)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "examples"), os.environ.get("PYTHONPATH")])),
    }
    where = f"{path.relative_to(ROOT)}:{line}"
    hint = (
        "Doc blocks run on their own in an empty directory: give them small budgets (total_timesteps of a few "
        f"hundred) and no dependence on files made elsewhere, or put the line {SKIP} right before the block."
    )
    try:
        result = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the python block at {where} ran for more than {TIMEOUT} s.\n{hint}\n{code}")
    assert result.returncode == 0, (
        f"the python block at {where} failed.\n{hint}\n{code}\n--- output ---\n"
        f"{(result.stdout + result.stderr)[-5000:]}"
    )


def test_api_reference_covers_the_public_names():
    """docs/api.md renders every public name from its docstring (mkdocstrings), and the algorithms' loss settings
    are documented there (they are keyword-only, None standing for the default their docstrings give)."""
    import inspect

    import sb3_hlgauss

    api = (ROOT / "docs" / "api.md").read_text()
    entries = set(re.findall(r"^::: sb3_hlgauss\.(\w+)\s*$", api, re.MULTILINE))
    missing = [name for name in sb3_hlgauss.__all__ if name not in entries]
    assert not missing, f"docs/api.md has no '::: sb3_hlgauss.NAME' entry for {missing}"
    settings = ("loss", "num_bins", "v_min", "v_max", "sigma_ratio", "value_transform", "loss_kwargs")
    for name in ("HLGaussDQN", "HLGaussSAC", "HLGaussTD3", "HLGaussPPO", "HLGaussA2C"):
        algo = getattr(sb3_hlgauss, name)
        parameters = inspect.signature(algo.__init__).parameters
        for setting in settings:
            assert setting in parameters, f"{name} has no {setting!r} argument, docs/api.md says it has"
            assert f"`{setting}" in api, f"docs/api.md does not document {setting!r}"
            assert f":param {setting}:" in (algo.__doc__ or ""), f"{name}'s docstring does not document {setting!r}"
            assert parameters[setting].kind is inspect.Parameter.KEYWORD_ONLY and parameters[setting].default is None, (
                f"{name}.{setting} changed: update docs/api.md (keyword-only, None = documented default)"
            )


def test_links_between_pages():
    """Relative links of README.md and docs/*.md point to files that exist (others' pages may be pending)."""
    link = re.compile(r"\]\(([^)#:]+)(#[^)]*)?\)")
    pending = {"zoo.md", "sac.md", "benchmarks.md"}  # written by other engineers
    broken = []
    for path in DOCUMENTS:
        for target, _ in link.findall(path.read_text()):
            resolved = (path.parent / target).resolve()
            if not resolved.exists() and Path(target).name not in pending:
                broken.append(f"{path.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_make_figures(tmp_path: Path):
    """docs/make_figures.py (which made docs/img/target_distributions.png) runs and writes a PNG."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "make_figures.py"), "--out-dir", str(tmp_path)],
        env={**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    png = tmp_path / "target_distributions.png"
    assert png.stat().st_size > 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (ROOT / "docs" / "img" / "target_distributions.png").stat().st_size > 0
