"""The documentation site as rendered: it builds with ``mkdocs build --strict``, every internal link, anchor
and image of the built HTML resolves, the pages' figures live inside docs/, and (where Debian's
``chromium`` is installed, as in CI) headless-Chromium screenshots of two pages are not blank.

The tools are in docs/_tools/: ``site_check.py`` (build + HTML check), ``screenshots.py``
(``bash scripts/docs_screenshots.sh``) and ``hooks.py`` (the build's Markdown fix-ups).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "docs" / "_tools"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_tools_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    import sys

    sys.path.insert(0, str(TOOLS))  # screenshots.py imports site_check
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(TOOLS))
    return module


site_check = _load("site_check")
hooks = _load("hooks")
#: .ci/run sets it: there a missing docs extra or chromium fails the checks instead of skipping them.
REQUIRED = os.environ.get("SB3_HLGAUSS_REQUIRE_DOCS") == "1"


def _skip(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (SB3_HLGAUSS_REQUIRE_DOCS=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("mkdocs", "mkdocstrings", "material"):
        if importlib.util.find_spec(module) is None:
            _skip(f"{module} is not installed: pip install -e '.[docs]'")
    site = tmp_path_factory.mktemp("docs") / "site"
    result = site_check.build_site(site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return site


def test_site_builds_strictly_and_every_link_anchor_and_image_resolves(built_site: Path):
    problems = site_check.check_site(built_site)
    assert not problems, "\n".join(problems)
    # The API reference is generated from the docstrings: every public name has its entry.
    import sb3_hlgauss

    api = (built_site / "api" / "index.html").read_text()
    missing = [name for name in sb3_hlgauss.__all__ if f'id="sb3_hlgauss.{name}"' not in api]
    assert not missing, f"the built API reference has no entry for {missing}"
    assert "Deep Q-Network trained by classification" in api  # HLGaussDQN's docstring, rendered
    assert not re.search(r":(class|func|meth|attr|data|mod):`", api), "a Sphinx role reached the page as text"
    # Every image of the pages is rendered from a file inside the site.
    benchmarks = (built_site / "benchmarks" / "index.html").read_text()
    assert benchmarks.count("<img") >= 10


def _tiny_site(root: Path) -> Path:
    (root / "img").mkdir(parents=True)
    (root / "img" / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "other").mkdir()
    (root / "other" / "index.html").write_text('<h2 id="there">There</h2><a href="../#top">up</a>')
    (root / "index.html").write_text(
        '<html><body><h1 id="top">Home</h1>\n'
        '<img src="img/ok.png" alt="fine">\n'
        '<img src="img/missing.png" alt="gone">\n'
        '<a href="other/#there">fine</a> <a href="other/#nowhere">bad anchor</a>\n'
        '<a href="#top">fine</a> <a href="nope/">missing page</a>\n'
        '<a href="https://example.org/x.png">external</a> <a href="mailto:a@b.c">mail</a>\n'
        '<img src="data:image/png;base64,AAAA"></body></html>'
    )
    return root


def test_the_checker_reports_a_missing_image_page_and_anchor(tmp_path: Path):
    site = _tiny_site(tmp_path / "site")
    problems = site_check.check_site(site)
    assert len(problems) == 3, problems
    assert any("image 'img/missing.png'" in problem and "index.html:3" in problem for problem in problems)
    assert any("no id 'nowhere'" in problem for problem in problems)
    assert any("'nope/'" in problem for problem in problems)
    (site / "img" / "missing.png").write_bytes(b"")
    assert any("empty file" in problem for problem in site_check.check_site(site))
    assert site_check.check_site(tmp_path / "empty") == [f"{(tmp_path / 'empty').resolve()}: no HTML pages (was the site built?)"]


def test_lists_under_a_paragraph_line_are_separated_for_the_site():
    text = "**Headline.**\n- one\n  continued\n- two\n\n```\nx\n- code\n```\nplain\n1. first\n2. second\n"
    assert hooks.separate_lists(text) == (
        "**Headline.**\n\n- one\n  continued\n- two\n\n```\nx\n- code\n```\nplain\n\n1. first\n2. second\n"
    )
    assert hooks.separate_lists("a\n\n- b\n- c") == "a\n\n- b\n- c"


def test_figures_live_inside_docs_and_match_the_results():
    """Pages link images inside docs/ only; each result figure is the copy update_docs makes of benchmarks/results."""
    from benchmarks.update_docs import linked_figures

    image = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
    for page in sorted((ROOT / "docs").glob("*.md")):
        for target in image.findall(page.read_text()):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT / "docs"), f"{page.name} links an image outside docs/: {target}"
            assert resolved.is_file(), f"{page.name} links a missing image: {target}"
    figures = linked_figures()
    assert len(figures) >= 10
    for relative in figures:
        source = ROOT / "benchmarks" / "results" / relative
        if source.is_file():
            copy = ROOT / "docs" / "img" / "results" / relative
            assert copy.read_bytes() == source.read_bytes(), (
                f"docs/img/results/{relative} is older than benchmarks/results/{relative}: "
                "run python -m benchmarks.update_docs --figures"
            )


def test_copy_figures(tmp_path: Path):
    from benchmarks.update_docs import copy_figures

    results, docs = tmp_path / "results", tmp_path / "docs"
    (results / "suite" / "summary").mkdir(parents=True)
    (results / "suite" / "summary" / "curves.png").write_bytes(b"new")
    docs.mkdir()
    (docs / "page.md").write_text("![curves](img/results/suite/summary/curves.png)\n![gone](img/results/none.png)\n")
    assert copy_figures(results, docs) == [docs / "img" / "results" / "suite" / "summary" / "curves.png"]
    assert (docs / "img" / "results" / "suite" / "summary" / "curves.png").read_bytes() == b"new"
    assert copy_figures(results, docs) == []  # unchanged: nothing written


def _distinct_colours(path: Path) -> int:
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(path) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 24) or [])


def test_committed_screenshots_are_not_blank():
    shots = sorted((ROOT / "docs" / "screenshots").glob("*.png"))
    assert {shot.stem for shot in shots} >= {"home", "benchmarks"}
    for shot in shots:
        assert shot.stat().st_size < 400_000, f"{shot} is large: bash scripts/docs_screenshots.sh writes small PNGs"
        assert _distinct_colours(shot) > 16, f"{shot} is blank"


def test_headless_chromium_screenshots_are_not_blank(built_site: Path, tmp_path: Path):
    if shutil.which("chromium") is None:
        _skip("Debian's chromium is not installed (apt-get install --no-install-recommends chromium)")
    screenshots = _load("screenshots")
    written = screenshots.take_screenshots(tmp_path, site=built_site, chromium=shutil.which("chromium"))
    assert set(written) == {"home", "benchmarks"}
    for name, path in written.items():
        pil = pytest.importorskip("PIL.Image")
        with pil.open(path) as image:
            assert image.size == (640, 1000), (name, image.size)
        # A page that failed to render (blank, or an error page) has a handful of colours; a rendered one,
        # with text, code and the theme's header, has well over a hundred even after the 256-colour palette.
        assert _distinct_colours(path) > 64, f"the {name} screenshot is blank"
