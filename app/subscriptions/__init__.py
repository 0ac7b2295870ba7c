"""Reaching people where they are: subscriptions to new events ("bevakning") without an
account, their digests, and the organisers' announcements of free seats.

- ``matching``: whose filters match which event (the one place of that rule, as SQL);
- ``subscribing``: subscribe (double opt-in), confirm, change, unsubscribe (the row is
  deleted), purge unconfirmed addresses;
- ``digests``: the daily or weekly digest of new events, each event once per subscriber;
- ``announcements``: free seats announced to matching subscribers, never twice per
  subscriber and event;
- ``posters``: the printable poster with a QR code;
- ``notices``: the mails, their links and their ``List-Unsubscribe`` headers.
"""
