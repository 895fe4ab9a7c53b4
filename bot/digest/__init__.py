"""The status digest: the portfolio at a glance for a portfolio manager (issue 5).

``model`` builds the digest data (pure), ``store`` reads and records digest runs, ``render`` and
``slack`` lay it out as Markdown, HTML, e-mail or Slack Block Kit (``formats`` picks one). The use
case that gathers, records and queues it is ``bot.usecases.digest``.
"""
