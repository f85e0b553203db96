"""A griffe extension for the API reference (mkdocs.yml): Sphinx roles in docstrings become code spans.

The docstrings use Sphinx's field lists (``:param x:``, read by mkdocstrings' ``docstring_style: sphinx``)
and its inline roles (``:class:`~stable_baselines3.DQN```), which Markdown would show verbatim. Each role
becomes a code span: ``~`` keeps the last name, as Sphinx shows it.
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|obj|exc|const):`(~?)([^`]+)`")


def _code_span(match: re.Match) -> str:
    short, target = match.group(1), match.group(2).strip()
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def convert_roles(text: str) -> str:
    """``:class:`~a.b.C``` -> ```C```, ``:func:`a.b``` -> ```a.b```."""
    return _ROLE.sub(_code_span, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: object) -> None:  # griffe >= 1.0 (griffelib 2.x)
        if obj.docstring is not None:
            obj.docstring.value = convert_roles(obj.docstring.value)

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:  # older griffe releases
        self.on_object(obj=obj, **kwargs)
