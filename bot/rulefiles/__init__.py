"""Helpers of the rule-file loader (``bot.rulefiles.loader`` is the public entry point).

    yamlnodes   read a file into a ruamel node tree; Sheet: positions, problems, strict mappings
    values      one scalar -> decimal, integer, threshold, date, duration, rate, name list
    settings    valuation: and forecast:
    covenants   one covenant
    scenarios   one stress scenario
"""
