"""`covbot digest` end to end on the demo portfolio, imported with the CLI into a temporary SQLite file.

Every format is rendered; the HTML is parsed and must be one self-contained page with inline SVG;
the Slack blocks are checked with slack_sdk's block models; a 500-facility portfolio stays within
Slack's limits; digest runs are recorded, and the next digest compares with the last one; `--send`
queues the digest through the outbox (delivered to files here: no Slack token, no SMTP host).
"""

from __future__ import annotations

import json
import os
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest
from slack_sdk.models.blocks import Block
from typer.testing import CliRunner

import bot
from bot.cli import app
from tests.support.random_portfolio import write_random_portfolio, write_rules

REPO = Path(bot.__file__).resolve().parents[1]
DEMO = REPO / "bot" / "demo" / "portfolio"
RULES = REPO / "rules"
AS_OF = "2026-11-20"
ESCAPED_BORROWER = "Vega & <Sons> Compute LLC"  # a demo borrower whose name needs escaping


class Workspace:
    def __init__(self, root: Path, **env: str):
        self.root = root
        self.db = root / "covbot.db"
        self.env = {
            "COVBOT_DATABASE_URL": f"sqlite:///{self.db}",
            "COVBOT_ENV_FILE": "/dev/null",
            "COVBOT_OUTBOX_DIR": str(root / "outbox"),
            "SLACK_BOT_TOKEN": "",
            "SMTP_HOST": "",
            "COVBOT_DEFAULT_SLACK_CHANNEL": "",
            "COVBOT_DEFAULT_EMAIL": "",
            **env,
        }

    def run(self, *args: str, env: dict | None = None, ok: bool = True):
        here = os.getcwd()
        os.chdir(self.root)
        try:
            result = CliRunner().invoke(app, [str(a) for a in args], env={**self.env, **(env or {})})
        finally:
            os.chdir(here)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    def digest(self, fmt: str, as_of: str = AS_OF, rules: Path = RULES) -> str:
        out = self.root / f"digest-{fmt}-{as_of}.out"
        self.run("digest", "--rules", rules, "--as-of", as_of, "--format", fmt, "--output", out)
        return out.read_text(encoding="utf-8")

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql).fetchall()


def _workspace(root: Path, **env: str) -> Workspace:
    ws = Workspace(root, **env)
    ws.run("import", DEMO)
    return ws


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Workspace:
    return _workspace(tmp_path_factory.mktemp("digest-demo"))


# -- HTML ------------------------------------------------------------------------------------------


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(name, value or "") for name, value in attrs]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


def assert_self_contained(page: str, parser: PageParser) -> None:
    assert "http://" not in page and "https://" not in page
    assert not {"script", "link", "img", "iframe", "object"} & set(parser.tags)
    for name, value in parser.attrs:
        assert name not in ("src", "href", "srcset"), (name, value)
        assert "//" not in value and "url(" not in value, (name, value)
    assert "@import" not in page and "url(" not in page


def test_html_is_one_self_contained_page_with_inline_svg(demo):
    page = demo.digest("html")
    parser = parse(page)
    assert parser.tags[0] == "html" and "style" in parser.tags
    assert_self_contained(page, parser)
    assert parser.tags.count("svg") > 50  # a headroom bar and a sparkline per covenant
    assert "rect" in parser.tags
    text = " ".join(" ".join(parser.text).split())
    for section in ("Portfolio at a glance", "Open breaches", "Reporting deadlines", "Stale prices",
                    "Facilities by headroom (worst first)", "Waivers expiring in the next 30 days"):
        assert section in text
    assert ESCAPED_BORROWER in text  # shown as written ...
    assert "<Sons>" not in page and "Vega &amp; &lt;Sons&gt; Compute LLC" in page  # ... and escaped


def test_html_shows_breaches_deadlines_and_stale_prices_of_the_demo(demo):
    text = " ".join(" ".join(parse(demo.digest("html")).text).split())
    assert "AIDC-004" in text and "8 days overdue" in text  # quarterly statements 143 days after period end
    assert "GPU:H100" in text and "45 days" in text  # the H100 mark is older than 30 days
    assert "SOL" in text and "crypto value is no data" in text
    assert "2026-12-20 (30 days left)" in text  # min-dscr at GPUC-003: cure_days 30, first seen today


def test_email_inlines_its_css_and_draws_bars_with_tables(demo):
    page = demo.digest("email")
    parser = parse(page)
    assert "style" not in parser.tags  # premailer moved every rule into style attributes
    assert any(name == "style" for name, _ in parser.attrs)
    assert "svg" not in parser.tags  # mail clients drop SVG: bars are table cells
    assert 'class="mail-bar"' in page and "mail-breach" in page
    assert_self_contained(page, parser)
    assert "<Sons>" not in page and ESCAPED_BORROWER in " ".join(parser.text)


def test_markdown_escapes_data_and_has_every_section(demo):
    text = demo.digest("markdown")
    assert text.startswith(f"# Covenant digest — {AS_OF}")
    for section in ("## Portfolio at a glance", "## New breaches since the last digest", "## Open breaches",
                    "## Reporting deadlines", "## Stale prices", "## Facilities by headroom (worst first)"):
        assert section in text
    assert "Vega \\& \\<Sons\\> Compute LLC" in text and "<Sons>" not in text
    assert "| breach | 9 | USD 817,600,000 | 14 |" in text  # facilities, exposure and tests in breach
    assert "## Collateral mirage" in text and "| GPUC-004 | Halcyon AI Cloud Corp. | USD 19,000,000 | 85.9 % | 174.3 % |" in text


def test_markdown_goes_to_standard_output_without_output_option(demo):
    result = demo.run("digest", "--rules", RULES, "--as-of", AS_OF)
    assert result.stdout.startswith(f"# Covenant digest — {AS_OF}")


# -- Slack -----------------------------------------------------------------------------------------


def assert_slack_limits(message: dict) -> list[str]:
    blocks = message["blocks"]
    assert message["text"].strip()
    assert 0 < len(blocks) <= 50
    texts = []
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises on anything Slack would refuse
        if raw["type"] == "section":
            assert len(raw["text"]["text"]) <= 3000
            texts.append(raw["text"]["text"])
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= 150
    return texts


def test_slack_blocks_are_valid_block_kit_with_escaped_data(demo):
    message = json.loads(demo.digest("slack"))
    texts = assert_slack_limits(message)
    joined = "\n".join(texts)
    assert "Vega &amp; &lt;Sons&gt; Compute LLC" in joined and "<Sons>" not in joined
    assert "*Open breaches* (14)" in joined


def test_a_500_facility_digest_stays_within_slack_limits(tmp_path):
    write_random_portfolio(tmp_path / "data", 500, seed=5)
    write_rules(tmp_path / "rules")
    ws = Workspace(tmp_path)
    ws.run("import", tmp_path / "data")
    message = json.loads(ws.digest("slack", as_of="2025-12-31", rules=tmp_path / "rules"))
    texts = assert_slack_limits(message)
    assert any("more_" in t for t in texts)  # long lists end with "+N more"
    page = ws.digest("html", as_of="2025-12-31", rules=tmp_path / "rules")
    assert parse(page).tags.count("svg") > 1000


# -- digest runs and --send ------------------------------------------------------------------------


def test_each_digest_is_recorded_and_the_next_compares_with_it(tmp_path):
    ws = _workspace(tmp_path)
    first = ws.digest("markdown", as_of="2026-10-20")
    assert "This is the first digest" in first
    second = ws.digest("markdown")
    assert "Changes are since the last digest, for 2026-10-20." in second
    new = second.split("## New breaches since the last digest")[1].split("##")[0]
    assert "**AIDC-004** Meridian Hyperscale Partners — Quarterly financials delivered on time" in new
    assert ws.query("SELECT as_of, sent_at FROM digest_runs ORDER BY id") == [
        ("2026-10-20", None), (AS_OF, None)]


def test_send_queues_the_digest_to_the_default_routes_and_records_it_as_sent(tmp_path):
    ws = _workspace(tmp_path, COVBOT_DEFAULT_SLACK_CHANNEL="#Portfolio", COVBOT_DEFAULT_EMAIL="pm@lender.example")
    result = ws.run("digest", "--rules", RULES, "--as-of", AS_OF, "--format", "html",
                    "--output", tmp_path / "page.html", "--send")
    assert "Queued the digest for #portfolio and pm@lender.example" in result.output
    rows = ws.query("SELECT transport, route, kind, state, sent_via FROM outbox ORDER BY id")
    assert rows == [("slack", "#portfolio", "digest", "sent", "file"),
                    ("email", "pm@lender.example", "digest", "sent", "file")]
    (slack_file,) = (tmp_path / "outbox" / "slack").glob("*.json")
    assert_slack_limits(json.loads(slack_file.read_text(encoding="utf-8")))
    (html_file,) = (tmp_path / "outbox" / "email").glob("*.html")
    assert 'class="mail-bar"' in html_file.read_text(encoding="utf-8")
    ((as_of, sent_at),) = ws.query("SELECT as_of, sent_at FROM digest_runs")
    assert as_of == AS_OF and sent_at is not None


def test_send_without_a_default_route_is_refused_and_records_nothing(tmp_path):
    ws = _workspace(tmp_path)
    result = ws.run("digest", "--rules", RULES, "--as-of", AS_OF, "--send", ok=False)
    assert result.exit_code == 2
    assert "COVBOT_DEFAULT_SLACK_CHANNEL" in result.output
    assert ws.query("SELECT count(*) FROM digest_runs") == [(0,)]


def test_every_option_has_help_text(demo):
    result = demo.run("digest", "--help")
    for option in ("--as-of", "--rules", "--format", "--output", "--send"):
        assert option in result.output
    assert "Status digest" in result.output
