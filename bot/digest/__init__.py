"""The status digest: the portfolio at a glance for a portfolio manager (issue 5).

``model`` builds the digest data (pure), ``build`` loads it from the store and the engine,
``render`` lays it out as Markdown, HTML, e-mail or Slack Block Kit, ``send`` queues it.
"""
