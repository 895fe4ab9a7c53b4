"""Where the Jinja2 templates live, and one environment per kind of output (HTML escapes)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"  # a checkout or an editable install
# a regular (non-editable) install puts the same folder here (pyproject's data-files)
INSTALLED_TEMPLATES = Path(sys.prefix) / "share" / "covbot" / "templates"


class TemplatesNotFound(FileNotFoundError):
    """The message templates folder is missing."""


def find_templates(configured: str | None) -> Path:
    """The templates folder: ``configured`` (COVBOT_TEMPLATES_DIR) when given, else the installed
    copy, else the checkout's ``templates/``. Called by the composition root (``bot.bootstrap``)."""
    if configured:
        folder = Path(configured).expanduser()
        if not folder.is_dir():
            raise TemplatesNotFound(
                f"COVBOT_TEMPLATES_DIR points at {folder}, which is not a folder; "
                "point it at a copy of covbot's templates/ folder or unset it."
            )
        return folder.resolve()
    for folder in (INSTALLED_TEMPLATES, REPO_TEMPLATES):
        if folder.is_dir():
            return folder
    raise TemplatesNotFound(
        f"covbot's message templates are neither at {INSTALLED_TEMPLATES} nor at {REPO_TEMPLATES}; "
        "set COVBOT_TEMPLATES_DIR to the templates/ folder of the covbot checkout."
    )


# The folder the renderers use: handed over by ``bot.bootstrap`` (found there once, from the
# settings); without a composition root (a library use, a unit test) the installed copy or checkout.
_folder: Callable[[], Path] = lru_cache(maxsize=1)(lambda: find_templates(None))


def use_templates(locate: Callable[[], Path]) -> None:
    """Render from the folder ``locate()`` returns (called once, on first use)."""
    global _folder
    _folder = lru_cache(maxsize=1)(locate)


def templates_dir() -> Path:
    """The folder the renderers read their templates from."""
    return _folder()


@lru_cache(maxsize=8)
def _environment(folder: str, html: bool) -> Environment:
    """One environment per kind of output. HTML (``*.html.j2`` and every template it imports or
    includes, compiled there) escapes every value; Slack and text templates are compiled without
    autoescape and get text the renderer has already escaped for them (or that needs none)."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True) if html else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def template(name: str) -> Template:
    """A template under the templates folder; ``*.html.j2`` ones autoescape HTML."""
    return _environment(str(templates_dir()), name.endswith((".html.j2", ".html"))).get_template(name)


# -- `covbot notify test` -----------------------------------------------------------------------
