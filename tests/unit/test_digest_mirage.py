"""The digest's "Collateral mirage" section: worst liquidation LTVs with book LTV beside them, the
book-wide stated vs liquidation value per currency, drawn as bars in HTML."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

from bot.digest.mirage import CollateralView, build_mirage
from bot.digest.model import DigestInputs, build_digest_model
from bot.digest.render import render_email, render_html, render_markdown
from bot.digest.slack import render_slack

T = date(2026, 11, 20)


def view(fid: str, outstanding: str, stated: str | None, liquidation: str | None, currency: str = "USD"):
    return CollateralView(fid, f"Borrower <{fid}>", currency, D(outstanding),
                          None if stated is None else D(stated), None if liquidation is None else D(liquidation))


VIEWS = [
    view("F1", "60", "100", "80"),  # book 60 %, liquidation 75 %
    view("F2", "50", "100", "40"),  # book 50 %, liquidation 125 %
    view("F3", "0", "100", "50"),  # nothing outstanding: not ranked, still in the totals
    view("F4", "10", None, None),  # a pledged asset without a fresh price
    view("F5", "10", "0", "0"),  # no collateral: not ranked
    view("E1", "90", "200", "150", "EUR"),  # book 45 %, liquidation 60 %
]


def test_worst_liquidation_ltv_first_with_book_ltv_beside_it() -> None:
    m = build_mirage(VIEWS)
    assert [(v.facility_id, v.book_ltv, v.liquidation_ltv) for v in m.worst] == [
        ("F2", D("0.5"), D("1.25")), ("F1", D("0.6"), D("0.75")), ("E1", D("0.45"), D("0.6")),
    ]
    assert m.ranked == 3 and m.unvalued == ("F4",)
    assert build_mirage(VIEWS, shown=1).worst[0].facility_id == "F2"


def test_book_wide_totals_per_currency() -> None:
    eur, usd = build_mirage(VIEWS).totals
    assert (eur.currency, eur.stated, eur.liquidation, eur.mirage) == ("EUR", D(200), D(150), D("0.25"))
    assert (usd.currency, usd.stated, usd.liquidation, usd.mirage) == ("USD", D(300), D(170), 1 - D(170) / D(300))


def digest():
    return build_digest_model(DigestInputs(as_of=T, generated_at=datetime(2026, 11, 20, 7, tzinfo=timezone.utc),
                                           facilities={}, covenants=(), current=(), collateral=VIEWS))


def test_the_section_in_every_format() -> None:
    d = digest()
    html = render_html(d)
    section = html[html.index("Collateral mirage"):]
    section = section[:section.index("</div>")]
    assert section.count('<svg class="ltvbar"') == 2 + 3 * 2  # two currencies, three facilities × two bars
    assert 'class="fill-breach" x="0" y="0" width="100.0"' in section  # F2: 125 % of a 0–200 % bar of 160 px
    assert "Borrower &lt;F2&gt;" in section and "125 %" in section and "50 %" in section
    assert "F4" in section  # named as not valued
    md = render_markdown(d)
    assert "## Collateral mirage" in md and "| F2 | Borrower \\<F2\\> | USD 50 | 50 % | 125 % |" in md
    email = render_email(d).html
    assert "Collateral mirage" in email and "<svg" not in email
    slack = str(render_slack(d).blocks)
    assert "Collateral mirage" in slack and "liquidation LTV 125 % (book 50 %)" in slack


def test_an_empty_book_says_so() -> None:
    d = build_digest_model(DigestInputs(as_of=T, generated_at=datetime(2026, 11, 20, tzinfo=timezone.utc),
                                        facilities={}, covenants=(), current=()))
    assert "No facility has collateral to value." in render_markdown(d)
    assert "No facility has collateral to value." in render_html(d)
