"""`watchdesk match --event SLUG URL|FILE…`: why the matcher links (or not) an article."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from crawler.cli.common import Context, pass_context

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crawler.matching.result import Relevance


@click.command()
@click.option("--event", "slug", required=True, help="Slug of the event to match against.")
@click.argument("articles", nargs=-1, required=True)
@pass_context
def match(ctx: Context, slug: str, articles: tuple[str, ...]) -> None:
    """Show whether articles are on-topic for an event and each watch item's score.

    An ARTICLE is a URL already in the store (its latest version is used: crawl or discover
    it first; nothing is fetched here), a saved HTML page (extracted as a crawl would), or a
    text file (first line the headline, the rest the body).

    Example: watchdesk match --event paraguay-pena-taiwan-2026 saved/abc-story.html
    """
    from crawler.matching.choose import relate
    from storage.linking import profile_of
    from storage.repositories import get_event

    with ctx.sessions() as session:
        event = get_event(session, slug)
        if event is None:
            raise click.ClickException(f"no event {slug!r}; add its card with `event add`")
        profile = profile_of(session, event)
        items = {item.number: item.text for item in event.watch_items if item.active}
        for source in articles:
            title, text = _article(session, source)
            result = relate(profile, title=title, text=text, language=None)
            _print(ctx, source, title, result, items)


def _article(session: Session, source: str) -> tuple[str | None, str]:
    """Headline and body of a stored URL, a saved HTML page or a text file."""
    from crawler.extract.extraction import extract_article
    from storage.repositories import latest_version, page_by_url

    path = Path(source)
    if path.is_file():
        data = path.read_bytes()
        if b"\x00" in data[:8192]:
            raise click.ClickException(f"{source} is not text or HTML (binary data)")
        if path.suffix.lower() in (".html", ".htm") or data.lstrip()[:1] == b"<":
            article = extract_article(data, path.resolve().as_uri())
            return article.title, "\n".join(article.paragraphs)
        title, _, body = data.decode("utf-8", "replace").partition("\n")
        return title.strip() or None, body
    page = page_by_url(session, source)
    version = latest_version(session, page.id) if page is not None else None
    if version is None:
        raise click.ClickException(
            f"{source} is neither a file nor a stored page; crawl or discover it first"
        )
    return version.title, "\n".join(version.paragraphs)


def _print(
    ctx: Context, source: str, title: str | None, result: Relevance, items: dict[int, str]
) -> None:
    """One article's verdict: on-topic, the evidence, every item's score and best sentence."""
    linked = {m.id for m in result.items}
    ctx.console.print(Text(source, style="bold"))
    ctx.console.print(Text(f"  headline: {title or '(none)'}"))
    verdict = "on-topic" if result.on_topic else "off-topic"
    ctx.console.print(Text(f"  {verdict} (score {result.score:.2f}; 0.5 decides)"))
    for line in result.evidence:
        ctx.console.print(Text(f"  {line}"))
    if not result.item_scores:  # the lexical matcher explains linked items only
        for m in result.items:
            ctx.console.print(Text(f"  item {m.id} ({m.score:.2f}): {' | '.join(m.evidence)}"))
        return
    table = Table("item", "linked", "score", "best sentence", "watch item")
    for number, score, sentence in result.item_scores:
        table.add_row(
            str(number),
            "yes" if number in linked else "",
            f"{score:.3f}",
            Text(sentence),
            Text(items.get(number, "")),
        )
    ctx.console.print(table)
