"""Seeded synthetic clinic exports with known, injected defects (never real patients)."""
