"""Staff log-in and log-out pages (Flask-Login). Who may open which staff page is
``accounts.access``."""

from .views import bp

__all__ = ["bp"]
