"""Staff accounts and organisations: users and their passwords (``users``), the role
groups and their names (``roles``), who may open a staff page (``access``), and the
organisations people belong to (``organisations``)."""
