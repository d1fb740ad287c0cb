"""Classifier components (relevance, PEM status, study design), registered by name.

Filled in by the classification work; the scanner's ingestion does not depend on it.
"""
