"""Inline a class-only stylesheet into an HTML page, fast: for alert e-mails.

Mail clients drop ``<style>`` blocks, so every element's style must be in its ``style`` attribute.
premailer does that for any CSS but costs about 0.3 s per 50-alert e-mail (it matches every rule
against every element); a covbot run sends one e-mail per recipient, so that cost adds up. The
alert e-mail's stylesheet (``templates/email/style.css``) uses single-class selectors only, so an
element's style is the declarations of its classes in stylesheet order, later ones winning, as
premailer computes it. Like premailer, table cells also get the old presentational attributes
(``bgcolor``, ``align``, ``valign``, ``width``) that some clients still read. A stylesheet with any
other selector is refused, so a customised template cannot silently lose its styles.
"""

from __future__ import annotations

import re
from functools import lru_cache

_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>\s*", re.S | re.I)
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_CLASS_SELECTOR = re.compile(r"^\.([A-Za-z_][\w-]*)$")
_TAG_WITH_CLASS = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*?)?\sclass=\"([^\"]*)\"([^<>]*?)(/?)>")
_CELLS = ("td", "th")
_BGCOLOR = ("table", "td", "th", "tr")


class NotClassOnly(ValueError):
    """The stylesheet has a selector other than one class: use premailer."""


def _rules(css: str) -> dict[str, list[tuple[str, str]]]:
    rules: dict[str, list[tuple[str, str]]] = {}
    for selectors, body in _RULE.findall(_COMMENT.sub("", css)):
        declarations = [tuple(part.strip() for part in d.split(":", 1)) for d in body.split(";") if ":" in d]
        for selector in selectors.split(","):
            match = _CLASS_SELECTOR.match(selector.strip())
            if match is None:
                raise NotClassOnly(f"selector {selector.strip()!r} is not a single class")
            rules.setdefault(match.group(1), []).extend((p, v) for p, v in declarations)  # type: ignore[misc]
    return rules


def inline_classes(html: str) -> str:
    """``html`` with its ``<style>`` block removed and each rule moved into the elements' ``style``."""
    blocks = _STYLE_BLOCK.findall(html)
    if not blocks:
        return html
    styles = _styles_for("".join(blocks))
    body = _STYLE_BLOCK.sub("", html)

    done: dict[str, str] = {}  # an alert e-mail repeats the same few tags hundreds of times

    def tag(match: re.Match) -> str:
        whole = match.group(0)
        inlined = done.get(whole)
        if inlined is None:
            inlined = done[whole] = _inline_tag(match, styles)
        return inlined

    return _TAG_WITH_CLASS.sub(tag, body)


def _inline_tag(match: re.Match, styles) -> str:
    """One tag with its classes' declarations in its ``style`` (and the old cell attributes)."""
    name, before, classes, after, close = match.groups()
    before, after = before or "", after or ""
    style, extra = styles(name.lower(), classes)
    if not style:
        return match.group(0)
    attrs = f'{before} class="{classes}"{after}'
    existing = re.search(r'\sstyle="([^"]*)"', attrs)
    if existing:  # an inline style wins over the stylesheet
        attrs = attrs.replace(existing.group(0), "")
        style = f"{style}; {existing.group(1)}"
    present = {m.lower() for m in re.findall(r"\s([a-zA-Z-]+)=", attrs)}
    added = "".join(f' {k}="{v}"' for k, v in extra if k not in present)
    return f'<{name}{attrs} style="{style}"{added}{close}>'


@lru_cache(maxsize=8)
def _styles_for(css: str):
    rules = _rules(css)
    order = {name: i for i, name in enumerate(rules)}

    @lru_cache(maxsize=512)
    def styles(tag_name: str, classes: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        merged: dict[str, str] = {}
        for cls in sorted((c for c in classes.split() if c in rules), key=order.__getitem__):
            for prop, value in rules[cls]:
                merged.pop(prop, None)
                merged[prop] = value
        extra = []
        if "background-color" in merged and tag_name in _BGCOLOR:
            extra.append(("bgcolor", merged["background-color"]))
        if tag_name in _CELLS:
            if "text-align" in merged:
                extra.append(("align", merged["text-align"]))
            if "vertical-align" in merged:
                extra.append(("valign", merged["vertical-align"]))
        if "width" in merged and tag_name in (*_CELLS, "table") and merged["width"].endswith("px"):
            extra.append(("width", merged["width"][:-2]))
        return "; ".join(f"{p}:{v}" for p, v in merged.items()), tuple(extra)

    return styles
