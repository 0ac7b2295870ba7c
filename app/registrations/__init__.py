"""Registrations: the seats module (the only writer of registration statuses), the read
helpers pages and mail use, what each change tells whom, reminders, and the status rules.
"""
