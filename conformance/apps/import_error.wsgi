# A script that fails at import; the case rewrites it to recover.
raise ImportError("probe import failure")
