"""The domain: holders, cards and their lifecycle, fees, banks and outlets.

Pure Python: no database, HTTP or device code (enforced by import-linter).
"""
