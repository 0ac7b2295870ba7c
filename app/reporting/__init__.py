"""Reporting: dashboard figures counted in the database (``figures``), and who may see
whose names in lists and exports (``exports``)."""
