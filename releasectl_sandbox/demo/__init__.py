"""`releasectl demo`: the whole story end to end in a sandbox of its own."""
