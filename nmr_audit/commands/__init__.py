"""Commands of `nmr-audit` kept in modules of their own (a function or a Typer sub-app each); `nmr_audit.cli` registers them."""
