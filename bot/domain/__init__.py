"""Pure domain logic: no I/O, no clock, Decimal only."""
