"""Refresh the generated tables and figures of ``docs/benchmarks.md`` from the result files.

``python -m benchmarks.update_docs`` re-runs the analyses listed in :data:`ANALYSES` (when their
result files exist) and replaces each block between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->`` of the page with that analysis's ``summary.md`` (tables only: the sentences
around the blocks are written by hand; re-read them after the numbers change). ``--skip NAME ...`` leaves
blocks (and their analyses) alone. The ``panel`` block is ``benchmarks.panel``'s, not this script's.

Last, the figures: the site (mkdocs) serves only files inside ``docs/``, so each image a page links as
``img/results/PATH`` is copied from ``benchmarks/results/PATH`` (:func:`copy_figures`; ``--figures`` does
only this).
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from benchmarks.analyze import analyze
from benchmarks.run import RESULTS_DIR

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
#: block name -> (suites analysed together, budget in env steps[, results folder if not RESULTS_DIR])
ANALYSES: dict[str, tuple] = {
    "minatar": (["minatar", "minatar_lr", "minatar_asym", "minatar_ablation"], 100_000),
    "minatar_500k": (["minatar"], 500_000),
    "noise": (["noise"], 100_000),
    "noise_500k": (["noise"], 500_000),  # Suite B at its own budget (running)
    "continuous": (["continuous"], 30_000),
    "continuous_300k": (["continuous"], 300_000),  # Suite D at its own budget (running)
    "ppo": (["ppo"], 1_000_000),  # Suite E's MuJoCo tasks (its MinAtar games run at 2M: another budget)
    "ppo_minatar": (["ppo"], 2_000_000),  # Suite E's MinAtar games
    "noise_ppo": (["noise_ppo"], 1_000_000),  # Suite E's reward-noise check (Hopper-v5, eta = 0 and 1)
    # Suite S: the x4 networks beside Suite A's x1 runs (the same settings otherwise).
    "capacity": (["capacity", "minatar"], 500_000),
    # The defaults check: HL-Gauss on the package's default support beside Suite A's hand-set one.
    "minatar_defaults": (["minatar_defaults", "minatar"], 500_000),
    # C51's checks: 51 atoms (c51_atoms) and a peaked start (c51_init) beside Suite A's runs.
    "c51_atoms": (["c51_atoms", "c51_init", "minatar"], 500_000),
    # The 0.5.0 default's acceptance (issue 35): SAC at 300k beside Suite D's runs; DQN on MinAtar beside 0.4.0's
    # defaults check and Suite A (SB3's DQN, the normalisation anchors).
    "continuous_defaults_050": (["continuous_defaults_050", "continuous"], 300_000),
    "minatar_defaults_050": (["minatar_defaults_050", "minatar_defaults", "minatar"], 500_000),
    # Its diagnosis: the same default with a wider HL-Gauss label (sigma_ratio = 3), beside it and 0.4.0's.
    "minatar_defaults_050_sigma": (["minatar_defaults_050_sigma", "minatar_defaults_050", "minatar_defaults"], 500_000),
    # Suite D's HLGaussSAC runs again on 0.3.0 (the new decoding), beside the 0.2.0 ones above.
    "continuous_v0.3.0": (["continuous"], 30_000, RESULTS_DIR / "v0.3.0"),
}


def _demote(markdown: str) -> str:
    """Headings of a summary become level-4 headings inside the docs page."""
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 3) + " ", markdown, flags=re.MULTILINE)


#: where the pages' copies of the result figures live (``docs/img/results/PATH`` <- ``benchmarks/results/PATH``)
FIGURES_DIR = ROOT / "docs" / "img" / "results"
_FIGURE_LINK = re.compile(r"!\[[^\]]*\]\((img/results/[^)\s]+)\)")


def linked_figures(docs_dir: Path = ROOT / "docs") -> list[str]:
    """The ``img/results/...`` images linked by the pages of ``docs_dir``, relative to ``img/results``."""
    found: set[str] = set()
    for page in sorted(docs_dir.glob("*.md")):
        found.update(link[len("img/results/"):] for link in _FIGURE_LINK.findall(page.read_text()))
    return sorted(found)


def copy_figures(results_dir: Path = RESULTS_DIR, docs_dir: Path = ROOT / "docs") -> list[Path]:
    """Copy every result figure the pages link into ``docs/img/results`` (unchanged copies are skipped).

    :return: the copies written. A linked figure without a source is left as it is (the build's link
        check reports it if the copy is missing too).
    """
    written = []
    for relative in linked_figures(docs_dir):
        source, copy = results_dir / relative, docs_dir / "img" / "results" / relative
        if not source.is_file() or (copy.is_file() and copy.read_bytes() == source.read_bytes()):
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        written.append(copy)
    return written


def summary_file(name: str, results_dir: Path = RESULTS_DIR) -> Path:
    """The ``summary.md`` that the analysis behind block ``name`` writes."""
    from benchmarks.suites import _steps_label

    suites, steps, *where = ANALYSES[name]
    return Path(where[0] if where else results_dir) / "+".join(suites) / _steps_label(steps) / "summary" / "summary.md"


def generated_tables(results_dir: Path = RESULTS_DIR, reps: int = 2000, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """block name -> the markdown the page's block holds (analyses whose results are missing are left out)."""
    blocks = {}
    for name, (suites, steps, *where) in ANALYSES.items():
        if name in skip:
            continue
        try:
            summary = analyze(suites, where[0] if where else results_dir, steps, reps=reps)
        except FileNotFoundError:
            continue
        blocks[name] = _demote(summary["markdown"])
    plasticity = results_dir / "plasticity" / "summary.md"
    if "plasticity" not in skip and plasticity.exists():
        blocks["plasticity"] = plasticity.read_text()
    return blocks


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the block ``name`` holding ``content`` (ValueError when the page has no such block)."""
    pattern = re.compile(rf"(<!-- generated:{re.escape(name)} -->\n).*?(<!-- /generated:{re.escape(name)} -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"no <!-- generated:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + content.rstrip("\n") + "\n" + m.group(2), text)


def read_block(text: str, name: str) -> str | None:
    """The content of the block ``name`` of ``text``, or None."""
    match = re.search(rf"<!-- generated:{re.escape(name)} -->\n(.*?)<!-- /generated:{re.escape(name)} -->", text, re.DOTALL)
    return match.group(1) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--skip", nargs="*", default=[], metavar="NAME", help="blocks to leave as they are")
    parser.add_argument("--figures", action="store_true", help="only copy the linked result figures into docs/img")
    args = parser.parse_args(argv)
    if not args.figures:
        text = DOCS.read_text()
        for name, block in generated_tables(reps=args.reps, skip=tuple(args.skip)).items():
            if read_block(text, name) is not None:
                text = replace_block(text, name, block)
                print(f"updated {name}")
        DOCS.write_text(text)
    for copy in copy_figures():
        print(f"copied {copy.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
