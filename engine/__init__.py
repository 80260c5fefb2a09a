"""backstop: a settlement rules engine for GPU-capacity backstop agreements.

Load versioned agreement documents, replay an event log through them, and read the
deterministic, hash-chained ledger of obligations (semantics `backstop/v2`).
"""

__version__ = "0.1.0"
