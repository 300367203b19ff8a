# Type stubs for the part of panoramisk the hotline uses (panoramisk ships none): only hotline/ami/client.py
# touches panoramisk, and through these types no Any leaks into the services.
from panoramisk.manager import Manager as Manager
from panoramisk.message import Message as Message
