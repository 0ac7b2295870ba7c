"""The foundation every other package builds on: configuration, extensions, the database's
write transaction and retries, the clock, languages, errors and security headers.

Imports nothing else from Kvarn (see docs/architecture.md).
"""
