"""The entry point on top of every service: the runner (``hotline up``) and the ``hotline`` command."""
