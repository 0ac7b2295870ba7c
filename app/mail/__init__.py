"""Mail: queueing finished messages in the outbox (``outbox``), building their bytes
(``message``) and calendar files (``calendar``), and delivering them (``delivery``).

Knows nothing of registrations or events: callers (``registrations.notices``) hand it
the recipient, the template and its data. See docs/architecture.md.
"""
