"""An HTML page read the way a person reads it: blocks in order, the text of each, tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

TEXT_BLOCKS = {"title", "h1", "h2", "h3", "p", "li", "blockquote", "summary"}


@dataclass
class Block:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    rows: list[tuple[str, list[str]]] = field(default_factory=list)  # tables: (class, cells)


class Page(HTMLParser):
    """Every start tag with its attributes, every block (heading, paragraph, list item, table)
    in document order with its text, and each table's rows with the text of their cells."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.blocks: list[Block] = []
        self.text = ""
        self._open: list[Block] = []
        self._table: Block | None = None
        self._in_cell = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag in TEXT_BLOCKS:
            self.blocks.append(Block(tag, attributes))
            self._open.append(self.blocks[-1])
        elif tag == "table":
            self._table = Block(tag, attributes)
            self.blocks.append(self._table)
        elif tag == "tr" and self._table is not None:
            self._table.rows.append((attributes.get("class", ""), []))
        elif tag in ("td", "th") and self._table is not None and self._table.rows:
            self._table.rows[-1][1].append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1].tag == tag:
            self._open.pop()
        elif tag == "table":
            self._table = None
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        self.text += data
        for block in self._open:
            block.text += data
        if self._in_cell and self._table is not None:
            self._table.rows[-1][1][-1] += data

    def body_blocks(self) -> list[Block]:
        """What the body shows, top to bottom (the title left out)."""
        return [b for b in self.blocks if b.tag != "title"]

    def table(self, table_id: str) -> Block:
        return next(b for b in self.blocks if b.tag == "table" and b.attrs.get("id") == table_id)
