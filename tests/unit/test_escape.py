import pytest
from markupsafe import Markup

from bot.notify.escape import ZERO_WIDTH_SPACE, html_escape, slack_escape


def test_slack_escape_neutralises_control_sequences():
    assert slack_escape("<!channel> & <b>") == "&lt;!channel&gt; &amp; &lt;b&gt;"


@pytest.mark.parametrize("hostile", ["<!here>", "<!channel>", "<!everyone>", "<@U0123ABC>",
                                     "<https://evil.example|click me>", "<#C0123|general>"])
def test_slack_escape_leaves_no_slack_control_sequence(hostile):
    escaped = slack_escape(f"Facility {hostile} Ltd")
    assert "<" not in escaped and ">" not in escaped


@pytest.mark.parametrize("word", ["@here", "@channel", "@everyone", "@HERE", "@Channel"])
def test_slack_escape_defuses_bare_broadcasts(word):
    escaped = slack_escape(f"ping {word}!")
    assert word not in escaped
    assert escaped == f"ping @{ZERO_WIDTH_SPACE}{word[1:]}!"


def test_slack_escape_keeps_ordinary_at_signs_and_text():
    assert slack_escape("ops@example.com @heretic 50% LTV") == "ops@example.com @heretic 50% LTV"


def test_slack_escape_does_not_double_escape_ampersand_order():
    # '&' is escaped first, so '<' becomes '&lt;' and not '&amp;lt;'
    assert slack_escape("a<b") == "a&lt;b"
    assert slack_escape("&lt;") == "&amp;lt;"


def test_html_escape_escapes_markup_and_quotes():
    assert html_escape("<!channel> & <b>\"'") == "&lt;!channel&gt; &amp; &lt;b&gt;&#34;&#39;"


def test_html_escape_trusts_markup_like_jinja():
    assert html_escape(Markup("<b>ok</b>")) == "<b>ok</b>"
