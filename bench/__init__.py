"""Benchmarks of osirisc against reference tools, measured in the same run (ratios and medians, never lone times).

Run ``python -m bench`` (``make bench``) or ``python -m bench --quick``; see bench/README.md.
"""
