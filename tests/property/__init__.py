"""Property tests (hypothesis) of the ledger against an exact Fraction reference."""
