"""The data lifecycle a municipality must keep (issue #14, items 4 and 5).

- ``archive``: an ended event's archive record (attendance list and figures as CSV and
  PDF/A, with a SHA-256 checksum file), written atomically into ``ARCHIVE_FOLDER``;
- ``purge``: after ``RETENTION_MONTHS``, the archive record first, then the event's
  registrations anonymised in one transaction (``flask privacy purge``, from cron), and
  the bodies of old sent mail deleted;
- ``own_data``: everything Kvarn holds about one address, as JSON;
- ``erasure``: a person erases all their registrations, confirmed from their address;
- ``links`` (the signed links mailed for both), ``forgetting`` (what is removed from mail
  and audit entries), ``notices`` (the mails).

It sits above the domains it reads (registrations, subscriptions, evaluations) and below
the pages; registration statuses still change only in ``registrations.seats``.
"""
