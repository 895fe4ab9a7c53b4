"""Rule expressions: parsed by a whitelist into a tree, evaluated in Decimal. Never eval.

PLACEHOLDER INTERFACE — being implemented. Contract:

    parse_expression(text) -> Expr            raises ExpressionError(message, offset)
    Expr.variables() -> frozenset[str]
    Expr.evaluate(env: Mapping[str, Value]) -> Value   (Decimal or NoData)
"""
