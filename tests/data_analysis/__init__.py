"""Synthetic sweep results for the analysis tests."""
