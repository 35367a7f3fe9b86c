"""Turning check, record and bench results into files people and CI systems read."""
