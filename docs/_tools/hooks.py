"""MkDocs hooks (mkdocs.yml ``hooks:``): make the pages render on the site as they do on GitHub.

GitHub's Markdown (CommonMark) lets a list start right under a paragraph line; Python-Markdown, which
MkDocs uses, needs a blank line first and otherwise runs the items into the paragraph as text
("**Headline.** - IQM ... - Per game ..."). The pages, and the blocks ``benchmarks/update_docs.py``
generates, are written for GitHub, so :func:`separate_lists` adds that blank line before the site is
built (outside fenced code). The files are not changed.
"""

from __future__ import annotations

import re

_ITEM = re.compile(r"^ {0,3}(?:[-*+]|1[.)])[ \t]+\S")  # items that may interrupt a paragraph in CommonMark
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def separate_lists(markdown: str) -> str:
    """Insert a blank line between a paragraph line and a list item that follows it directly."""
    out: list[str] = []
    fence = None
    in_list = False
    previous = ""
    for line in markdown.split("\n"):
        opening = _FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1) == fence:
                fence = None
        elif opening:
            fence = opening.group(1)
            in_list = False
        elif not line.strip():
            in_list = False
        elif _ITEM.match(line):
            if previous.strip() and not in_list and not previous.lstrip().startswith(">"):
                out.append("")
            in_list = True
        out.append(line)
        previous = line
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    return separate_lists(markdown)
