"""Build the documentation site and check it as rendered: every internal link, anchor and image resolves.

    python docs/_tools/site_check.py            # mkdocs build --strict into a temporary folder, then check
    python docs/_tools/site_check.py --site DIR # check a site built already

``mkdocs build --strict`` checks the Markdown's links to pages and anchors it knows of; this check reads
the HTML that was written (the theme's own links, the API reference's anchors, ``<img>`` of every page)
with the standard library's :mod:`html.parser`, so a page that shows a broken image or an anchor that
leads nowhere fails. Used by ``tests/test_docs_site.py`` (CI).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
#: (tag, attribute) pairs that name another file of the site.
_LINK_ATTRS = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("source", "src"),
               ("iframe", "src"), ("video", "src"), ("audio", "src")}


class _PageParser(HTMLParser):
    """Collects a page's ids (anchors) and the URLs its elements point to, with their line numbers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, int]] = []  # (tag, url, line)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            if (tag, name) in _LINK_ATTRS:
                self.links.append((tag, value, self.getpos()[0]))
            if tag in ("img", "source") and name == "srcset":
                for candidate in value.split(","):
                    if candidate.strip():
                        self.links.append((tag, candidate.split()[0], self.getpos()[0]))

    handle_startendtag = handle_starttag


def parse_page(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return parser


def _is_external(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.scheme or parts.netloc) or url.startswith("//")


def _target_file(site: Path, page: Path, path: str) -> Path:
    """The file a relative URL path of ``page`` names (a folder means its index.html)."""
    if path.startswith("/"):
        target = site / path.lstrip("/")
    else:
        target = page.parent / PurePosixPath(unquote(path))
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return Path(os.path.normpath(target))


def check_site(site: Path) -> list[str]:
    """Problems of the built site in ``site``: one line per broken link, anchor or image (empty: all resolve).

    External URLs (a scheme such as ``https:``, ``mailto:``, ``data:``) are not fetched.
    """
    site = site.resolve()
    pages = sorted(site.rglob("*.html"))
    if not pages:
        return [f"{site}: no HTML pages (was the site built?)"]
    parsed = {page: parse_page(page) for page in pages}
    problems = []
    for page, parser in parsed.items():
        where = page.relative_to(site)
        for tag, url, line in parser.links:
            if _is_external(url) or not url.strip():
                continue
            parts = urlsplit(url)
            target = _target_file(site, page, parts.path) if parts.path else page
            kind = "image" if tag in ("img", "source") else "link"
            if not target.resolve().is_relative_to(site):
                problems.append(f"{where}:{line}: <{tag}> {url!r} points outside the site")
            elif not target.is_file():
                problems.append(f"{where}:{line}: {kind} {url!r}: {target.relative_to(site)} does not exist")
            elif kind == "image" and target.stat().st_size == 0:
                problems.append(f"{where}:{line}: image {url!r} is an empty file")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target.resolve()].ids if target.resolve() in parsed else parse_page(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{where}:{line}: link {url!r}: no id {unquote(parts.fragment)!r} "
                                    f"in {target.relative_to(site)}")
    return problems


def build_site(out_dir: Path, config: Path = ROOT / "mkdocs.yml") -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``config`` into ``out_dir`` (the completed process; check its returncode)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(out_dir)],
        cwd=config.parent, capture_output=True, text=True, env=_quiet_env(), check=False,
    )


def _quiet_env() -> dict[str, str]:
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", type=Path, help="check this built site instead of building one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            result = build_site(site)
            if result.returncode != 0:
                print(result.stdout + result.stderr, file=sys.stderr)
                print("mkdocs build --strict failed", file=sys.stderr)
                return 1
        problems = check_site(site)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(list(Path(site).rglob('*.html')))} pages checked: "
              + (f"{len(problems)} broken links, anchors or images" if problems else "every link, anchor and image resolves"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
