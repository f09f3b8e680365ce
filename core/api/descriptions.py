"""How the browsable API and OPTIONS responses describe a view: its docstring, read as the reStructuredText it is
written in, rather than shown with raw ``double backticks`` and hard line breaks."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from rest_framework.views import get_view_description

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its wrapped lines joined."""
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def view_description(view: Any, html: bool = False) -> str | SafeString:
    text = _ROLE.sub(r"``\1``", get_view_description(view, html=False))
    if not html:
        return "\n\n".join(_LITERAL.sub(r"\1", paragraph) for paragraph in _paragraphs(text))
    rendered = [
        "<p>" + _LITERAL.sub(r"<code>\1</code>", escape(paragraph, quote=False)) + "</p>"
        for paragraph in _paragraphs(text)
    ]
    return mark_safe("".join(rendered))  # noqa: S308 - every piece of the docstring is escaped above
