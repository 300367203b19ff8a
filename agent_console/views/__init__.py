"""Request handlers, one module per part of the console. Routes and their access are in ``routes.py``."""
