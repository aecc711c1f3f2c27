"""Prefect flows: orchestration only. The audit's logic lives in `nmr_audit`."""
