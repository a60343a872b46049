"""The words of a mail: charsets Chinese mail really uses, HTML-only mail, quotes and signatures.

* Charsets: mail labelled GB2312 or GBK is very often GB18030 in fact (a superset), so they are
  read as GB18030; Big5 as Big5-HKSCS. A charset Python does not know, or bytes that do not
  fit their label, are tried as UTF-8, GB18030 and Big5 in turn and then guessed with
  charset-normalizer; only then are undecodable bytes replaced (U+FFFD), never dropped silently.
* HTML to text with the standard library's parser: scripts, styles and the head are left out,
  block elements end lines, entities are decoded.
* A reply's quoted text and signature: mail-parser-reply reads the patterns of the common
  clients in several languages; our own rules then cut what Chinese clients add and it does
  not know (``在 … 写道：``, ``-----原始邮件-----``, Outlook's 发件人/发送时间 block, ``> `` lines,
  the ``-- `` signature delimiter, "发自我的iPhone").
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from charset_normalizer import from_bytes
from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]

# Labels that lie: the bytes are a superset's.
_WIDER = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-7": "utf-7",
}
_CHINESE = ("gb18030", "big5hkscs")


def codec_for(label: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when Python knows no such one."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _WIDER.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _odd(text: str) -> int:
    """Characters Chinese prose rarely holds: private-use, rare blocks, controls. GB18030 maps
    almost any bytes to something, so Big5 read as GB18030 shows up as odd characters."""
    return sum(
        1
        for ch in text
        if not (
            ch.isascii()
            or "\u4e00" <= ch <= "\u9fff"
            or "\u3000" <= ch <= "\u303f"
            or "\uff00" <= ch <= "\uffef"
            or "\u2000" <= ch <= "\u206f"
        )
    )


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """The text and, when the label did not fit, a note of what was done (for staff)."""
    codec = codec_for(label)
    if codec is not None:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            pass
    try:
        text = data.decode("utf-8")
        return (
            text,
            None if label is None or codec == "utf-8" else f"charset {label!r} read as utf-8",
        )
    except UnicodeDecodeError:
        pass
    readings = []
    for name in _CHINESE:
        try:
            readings.append((_odd(decoded := data.decode(name)), name, decoded))
        except UnicodeDecodeError:
            continue
    if readings:
        _, name, text = min(readings, key=lambda r: r[0])
        return text, f"charset {label!r} read as {name}"
    best = from_bytes(data).best()
    if best is not None:
        return str(best), f"charset {label!r} guessed as {best.encoding}"
    return data.decode("utf-8", errors="replace"), f"charset {label!r}: bytes replaced"


_BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "blockquote"}
    | {"pre", "table", "ul", "ol", "section", "article"}
)
_SKIP = frozenset({"script", "style", "head", "title", "template"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (
        " ".join(line.replace("\xa0", " ").split()) for line in "".join(parser.parts).split("\n")
    )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where a quoted earlier mail starts: everything from here on is the earlier mail.
_QUOTE_STARTS = [
    re.compile(r"^\s*-{3,}\s*(原始邮件|原邮件|转发邮件|Original Message|Forwarded message)", re.I),
    re.compile(r"^.{0,160}写道\s*[:：]\s*$"),
    re.compile(r"^\s*On .{0,200}wrote:\s*$", re.I),
    re.compile(r"^_{10,}\s*$"),
]
# A header block must follow the 发件人/From line to count (a letter may say "From: me").
_FROM_LINE = re.compile(r"^\s*[*]?(发件人|From)[*]?\s*[:：]", re.I)
_HEADER_FOLLOWS = re.compile(
    r"^\s*(发送时间|日期|时间|收件人|主题|Sent|Date|To|Subject)\s*[:：]", re.I
)
# Lines a client appends that say nothing.
_SENT_FROM = re.compile(
    r"^\s*(发自我的.{0,20}|从我的.{0,20}发送|Sent from my .{0,40}|Sent from .{0,20}Mail.{0,30}"
    r"|发自.{0,12}邮箱.{0,8})\s*$",
    re.I,
)


def strip_reply(text: str) -> str:
    """The new words of a reply: quoted earlier mail and the signature cut off. When that
    would leave nothing (a reply written below the quote, or only a quote), the text stays."""
    try:
        parsed = EmailReplyParser(languages=["zh", "en"]).parse_reply(text=text)
    except Exception:  # the library's regexes on odd input: fall back to our own rules
        parsed = text
    kept = _own_rules(parsed or text)
    return kept if kept.strip() else text.strip()


def _own_rules(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.rstrip() in ("--", "-- ") or _starts_quote(lines, index):
            break
        if line.lstrip().startswith(">") or _SENT_FROM.match(line):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def _starts_quote(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _FROM_LINE.match(line):
        return any(_HEADER_FOLLOWS.match(f) for f in lines[index + 1 : index + 4])
    return any(pattern.match(line) for pattern in _QUOTE_STARTS)
