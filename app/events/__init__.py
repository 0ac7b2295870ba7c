"""Events: creating and editing them (``editing``, ``schedule``), publishing and their own
status (``publishing``), gauging interest (``gauging``), which are listed (``listing``)
and what each status is called (``statuses``). Registrations are ``registrations``'.
"""
