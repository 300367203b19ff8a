"""The AMI ingest: keeps every call's record and the live state true to what Asterisk reports."""

from ami_listener.listener import CallEventListener

__all__ = ["CallEventListener"]
