"""Read a card file in either layout: Markdown (as the news graph writes it) or YAML.

Pure module: no Scrapy, no SQLAlchemy.
"""

from __future__ import annotations

import re

from crawler.cards.markdown import parse_markdown_card
from crawler.cards.model import Card, decode_card
from crawler.cards.yaml_card import parse_yaml_card


def parse_card(text: str | bytes, *, name: str = "<card>") -> Card:
    """Parse a card, choosing Markdown or YAML by file name, else by content.

    Args:
        text: the card as text or raw bytes (UTF-8).
        name: used in error messages; a `.yaml`/`.yml`/`.md` suffix decides the format.

    Returns:
        The parsed `Card`.

    Raises:
        CardError: the card is unusable; the message names the line.
    """
    decoded = decode_card(text, name)
    if _looks_like_yaml(decoded, name):
        return parse_yaml_card(decoded, name=name)
    return parse_markdown_card(decoded, name=name)


def _looks_like_yaml(text: str, name: str) -> bool:
    """File suffix first; otherwise YAML when no Markdown sign and the first line is `key:`."""
    lowered = name.lower()
    if lowered.endswith((".yaml", ".yml")):
        return True
    if lowered.endswith((".md", ".markdown")):
        return False
    if re.search(r"^(##\s|\*\*Meta|> )", text, re.MULTILINE):
        return False
    first = next((ln for ln in text.split("\n") if ln.strip() and not ln.startswith("#")), "")
    return bool(re.match(r"^(---\s*$|[A-Za-z_][\w-]*\s*:)", first))
