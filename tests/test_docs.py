"""The documentation's relative links resolve: every file it links to exists in the repository, and every
`#fragment` names a heading of the linked Markdown file, as GitHub renders its anchors.

Links are read with markdown-it (CommonMark), so links inside code spans and fenced blocks are not links, and
reference-style links are resolved as a renderer would. A code span that starts with `../` is a path from the
document as much as a link is (a reader follows it by hand), so it is held to the same rule.
"""

import re
from collections import Counter
from collections.abc import Iterator
from functools import cache
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
_HTML_TARGET = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
_HTML_ANCHOR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")
_markdown = MarkdownIt("commonmark").enable("table")


def _tokens(path: Path) -> list[Token]:
    return _markdown.parse(path.read_text(encoding="utf-8"))


def _walk(tokens: list[Token]) -> Iterator[Token]:
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading's text (github-slugger): lower case, punctuation dropped, each space a hyphen."""
    kept = "".join(ch for ch in heading.lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def _heading_text(inline: Token) -> str:
    """The text a reader sees: code spans' contents and links' texts, without the Markdown around them."""
    return "".join(t.content for t in _walk(inline.children or []) if t.type in {"text", "code_inline"})


@cache
def anchors(path: Path) -> frozenset[str]:
    """The fragments a link to `path` may name: its headings' anchors (repeats numbered as GitHub numbers them)
    and any HTML `id` or `name`."""
    tokens = _tokens(path)
    seen: Counter[str] = Counter()
    found = set()
    for opening, inline in pairwise(tokens):
        if opening.type == "heading_open":
            anchor = github_anchor(_heading_text(inline))
            found.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
            seen[anchor] += 1
    found |= {m for t in _walk(tokens) if t.type.startswith("html") for m in _HTML_ANCHOR.findall(t.content)}
    return frozenset(found)


def _targets(path: Path) -> Iterator[str]:
    for token in _walk(_tokens(path)):
        if token.type == "link_open":
            yield str(token.attrs["href"])
        elif token.type == "image":
            yield str(token.attrs["src"])
        elif token.type == "code_inline" and token.content.startswith("../"):
            yield token.content
        elif token.type in {"html_block", "html_inline"}:
            yield from _HTML_TARGET.findall(token.content)


def broken_links(path: Path, *, root: Path = REPO) -> list[str]:
    """The relative links of the Markdown file `path` that lead nowhere (or out of `root`), each with the reason."""
    broken = []
    for target in _targets(path):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # absolute: another site's business
        linked = (path.parent / unquote(parts.path)).resolve() if parts.path else path
        if not linked.is_relative_to(root):
            broken.append(f"{target}: outside the repository")
        elif not linked.exists():
            broken.append(f"{target}: no such file")
        elif parts.fragment and linked.suffix == ".md" and unquote(parts.fragment) not in anchors(linked):
            broken.append(f"{target}: no heading with that anchor")
    return broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert broken_links(document) == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Quick start", "quick-start"),
        ("The `forge` CLI", "the-forge-cli"),
        ("Errors (RFC 9457)", "errors-rfc-9457"),
        ("Idempotency-Key: retries", "idempotency-key-retries"),
        ("A — B", "a--b"),
        ("snake_case names", "snake_case-names"),
    ],
)
def test_anchors_are_github_s(heading: str, anchor: str) -> None:
    assert github_anchor(heading) == anchor


def test_a_link_to_a_missing_file_heading_or_outside_is_reported(tmp_path: Path) -> None:
    """The checker itself: a test that could not fail would prove nothing about the documents."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# Project\n\n## Quick start\n", encoding="utf-8")
    (root / "docs" / "api.md").write_text("# API\n", encoding="utf-8")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "notes.md").write_text("# Notes\n", encoding="utf-8")  # exists, but not in the repository
    document = root / "docs" / "guide.md"
    document.write_text(
        "# Title\n\n## Same `name`\n\n## Same name\n\n"
        "[ok](#title) [ok](#same-name-1) [ok](api.md) [ok](../README.md#quick-start) [ok](https://example.com/x)\n\n"
        "[gone](missing.md) [bad](#nothing) [bad](api.md#nothing) [out](../../shared/notes.md)\n\n"
        "`[code](not-a-link.md)` `../README.md` `../gone.md`\n\n```\n[fenced](not-a-link-either.md)\n```\n\n"
        '[ref][r] <a href="missing-html.md">html</a>\n\n[r]: missing-ref.md\n',
        encoding="utf-8",
    )
    assert broken_links(document, root=root) == [
        "missing.md: no such file",
        "#nothing: no heading with that anchor",
        "api.md#nothing: no heading with that anchor",
        "../../shared/notes.md: outside the repository",
        "../gone.md: no such file",
        "missing-ref.md: no such file",
        "missing-html.md: no such file",
    ]
