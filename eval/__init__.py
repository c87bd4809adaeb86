"""Evaluation harness: labelled corpora from pinned wheels, and scripts that score detectors."""
