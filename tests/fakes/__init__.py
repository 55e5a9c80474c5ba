"""Fakes of machine objects and bus models for the driver tests (tests/test_drivers_*.py)."""
