"""Commands of `nmr-audit` kept in modules of their own; `nmr_audit.cli` registers them."""
