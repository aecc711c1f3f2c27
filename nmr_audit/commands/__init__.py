"""Sub-commands of `nmr-audit`, each a Typer app registered in `nmr_audit.cli`."""
