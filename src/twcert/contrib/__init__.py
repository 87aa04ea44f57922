"""Thin adapters that put twcert into web frameworks: Flask (:mod:`twcert.contrib.flask`) and Django
(:mod:`twcert.contrib.django`)."""
