"""Use cases: each function is one thing a user or the sync engine does, in one transaction
handed in by the caller (``*, session``)."""
