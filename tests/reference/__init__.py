"""An independent reference implementation of DOMAIN.md, for cross-checks."""
