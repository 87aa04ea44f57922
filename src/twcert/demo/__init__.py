"""The demo site: the manual, end to end, on test cards (``twcert demo``)."""
