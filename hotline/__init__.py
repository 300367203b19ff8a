"""Shared core of the 19524 hotline: settings, database, AMI, the Asterisk sandbox and the `hotline` CLI."""
