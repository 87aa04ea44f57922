"""``twcert_inspect``, ``twcert_load_orglist``, ``twcert_purge``."""
