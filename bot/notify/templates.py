"""Where the Jinja2 templates live, and one environment per kind of output (HTML escapes)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

REPO_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"  # a checkout or an editable install
# a regular (non-editable) install puts the same folder here (pyproject's data-files)
INSTALLED_TEMPLATES = Path(sys.prefix) / "share" / "covbot" / "templates"


class TemplatesNotFound(FileNotFoundError):
    """The message templates folder is missing."""


def templates_dir() -> Path:
    """``COVBOT_TEMPLATES_DIR`` when set, else the ``templates/`` folder of the checkout (or of the
    installed package's data)."""
    import os

    return _templates_dir(os.environ.get("COVBOT_TEMPLATES_DIR"), os.environ.get("COVBOT_ENV_FILE"))


@lru_cache(maxsize=8)
def _templates_dir(_env_value: str | None, _env_file: str | None) -> Path:
    """Cached per value of the settings that decide it (reading settings parses `.env`)."""
    from bot.config import load_settings

    configured = load_settings().templates_dir
    if configured:
        folder = Path(configured).expanduser()
        if not folder.is_dir():
            raise TemplatesNotFound(
                f"COVBOT_TEMPLATES_DIR points at {folder}, which is not a folder; "
                "point it at a copy of covbot's templates/ folder or unset it."
            )
        return folder.resolve()
    for folder in (REPO_TEMPLATES, INSTALLED_TEMPLATES):
        if folder.is_dir():
            return folder
    raise TemplatesNotFound(
        f"covbot's message templates are neither at {REPO_TEMPLATES} nor at {INSTALLED_TEMPLATES}; "
        "set COVBOT_TEMPLATES_DIR to the templates/ folder of the covbot checkout."
    )


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
