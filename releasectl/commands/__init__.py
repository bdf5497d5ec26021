"""One module per verb, orchestrating the pure core and the adapters."""
