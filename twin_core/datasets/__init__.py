"""Instruction and preference datasets built from the author's cleaned documents.

Pure logic (no Dagster): generators, filters, the split by document, versioning and the dataset
store. The Dagster assets in ``twin_assets/datasets`` only wire these together.
"""
