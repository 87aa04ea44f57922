"""Management commands of the twcert Django app."""
