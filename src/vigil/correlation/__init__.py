"""Correlation rules: which alerts become which incidents."""
