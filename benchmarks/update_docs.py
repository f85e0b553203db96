"""Refresh the generated blocks of ``docs/benchmarks.md`` and ``README.md`` from the analysis summaries.

``python -m benchmarks.update_docs`` re-runs the analyses listed in :data:`ANALYSES` (when their
result files exist) and replaces each block between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->`` in the docs page with the corresponding ``summary.md``. Then it writes
the prose blocks of :mod:`benchmarks.evidence` from the summaries just written (its ``BLOCKS``): the
headlines of the docs page (``headline_500k``, ``headline_100k``), the suites' readings, what remains of
the running suites (``progress``, counted from the result files), docs/ppo.md's record and reading of Suite E
and README's evidence list (``evidence``). Text
outside the blocks (the interpretation) is left alone: re-read it after the numbers change.
``--skip NAME ...`` leaves blocks (and their analyses) alone, e.g. ``--skip capacity`` while
Suite S is still running.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--skip", nargs="*", default=[], metavar="NAME", help="blocks to leave as they are")
    parser.add_argument("--figures", action="store_true", help="only copy the linked result figures into docs/img")
    args = parser.parse_args(argv)
    if args.figures:
        for copy in copy_figures():
            print(f"copied {copy.relative_to(ROOT)}")
        return 0
    text = DOCS.read_text()
    for name, (suites, steps, *where) in ANALYSES.items():
        if name in args.skip:
            continue
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL)
        if not pattern.search(text):
            continue
        try:
            summary = analyze(suites, where[0] if where else RESULTS_DIR, steps, reps=args.reps)
        except FileNotFoundError:
            continue
        block = _demote(summary["markdown"]).replace("\\", "\\\\")
        text = pattern.sub(lambda m, block=block: m.group(1) + block + "\n" + m.group(2), text)
        print(f"updated {name} from {summary['out_dir']}")
    # Suite S (capacity): its own analysis (Suite A's x1 runs with Suite S's x4 runs).
    pattern = re.compile(r"(<!-- generated:capacity -->\n).*?(<!-- /generated:capacity -->)", re.DOTALL)
    if "capacity" not in args.skip and pattern.search(text) and (RESULTS_DIR / "capacity").is_dir():
        from benchmarks.capacity import analyze_capacity

        analyze_capacity(RESULTS_DIR, 500_000, reps=args.reps)
        block = _demote((RESULTS_DIR / "capacity" / "500k" / "summary" / "capacity.md").read_text()).replace("\\", "\\\\")
        text = pattern.sub(lambda m: m.group(1) + block + m.group(2), text)
        print("updated capacity")
    # The defaults check: its own analysis (the defaults against Suite A's hand-set HL-Gauss, and the rule).
    pattern = re.compile(r"(<!-- generated:minatar_defaults -->\n).*?(<!-- /generated:minatar_defaults -->)", re.DOTALL)
    if "minatar_defaults" not in args.skip and pattern.search(text) and (RESULTS_DIR / "minatar_defaults").is_dir():
        from benchmarks.defaults_check import analyze_defaults

        block = analyze_defaults(RESULTS_DIR, 500_000, reps=args.reps)["markdown"].replace("\\", "\\\\")
        text = pattern.sub(lambda m: m.group(1) + block + m.group(2), text)
        print("updated minatar_defaults")
    plasticity = RESULTS_DIR / "plasticity" / "summary.md"
    pattern = re.compile(r"(<!-- generated:plasticity -->\n).*?(<!-- /generated:plasticity -->)", re.DOTALL)
    if "plasticity" not in args.skip and plasticity.exists() and pattern.search(text):
        text = pattern.sub(lambda m: m.group(1) + plasticity.read_text() + m.group(2), text)
    DOCS.write_text(text)
    # The prose: README's evidence list and the docs' headline, from the summaries written above.
    from benchmarks import evidence

    for name, content in evidence.generate(RESULTS_DIR).items():
        target = ROOT / evidence.BLOCKS[name][0]
        page = target.read_text()
        if name in args.skip or evidence.read_block(page, name) is None:
            continue
        if isinstance(content, Exception):
            print(f"left {name} as it is: {content}")
            continue
        target.write_text(evidence.replace_block(page, name, content))
        print(f"updated {name} in {target.relative_to(ROOT)}")
    for copy in copy_figures():
        print(f"copied {copy.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
