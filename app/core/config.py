"""Default configuration.

Order of precedence (later wins): these defaults, ``instance/config.py``, then
environment variables prefixed ``KVARN_`` (``KVARN_SECRET_KEY``,
``KVARN_SQLALCHEMY_DATABASE_URI``, ...), parsed as JSON where possible.
"""

from __future__ import annotations


class DefaultConfig:
    # Left at this value, a random key is made once and kept in instance/secret_key.
    SECRET_KEY = "dev-only-change-me"
    # Filled in by create_app() with a file in the instance folder when left empty.
    SQLALCHEMY_DATABASE_URI = ""
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Seconds a SQLite connection waits for the write lock before giving up.
    SQLITE_BUSY_TIMEOUT = 30

    # Bounded retries of a write transaction on lock/deadlock errors.
    WRITE_RETRIES = 5

    BABEL_DEFAULT_LOCALE = "sv"
    BABEL_DEFAULT_TIMEZONE = "Europe/Stockholm"
    LANGUAGES = ["sv", "en"]

    MAX_CONTENT_LENGTH = 256 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the CSRF token lives as long as the session

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # set KVARN_SESSION_COOKIE_SECURE=true behind HTTPS
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"

    # Public base URL used in e-mails (links must work outside a request).
    BASE_URL = "http://127.0.0.1:5000"
    SITE_NAME = "Kvarn"

    # Mail (Flask-Mail). Nothing is sent by the web process: the outbox worker sends.
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_DEFAULT_SENDER = "Kvarn <noreply@kvarn.example>"
    MAIL_TIMEOUT = 30
    MAIL_BATCH_SIZE = 100
    MAIL_MAX_ATTEMPTS = 8
    MAIL_RETRY_BASE_SECONDS = 60
    MAIL_LEASE_SECONDS = 300
    # Show queued and delivered mail at /dev/mailbox (for `make run`; never in production).
    DEV_MAILBOX = False

    REMINDER_LEAD_HOURS = 48

    # Evaluations and certificates (evaluations/, `flask evaluations send-due` from cron).
    # The thank-you mail with the evaluation link (and the certificate) goes this many hours
    # after the last session ends (time to finish the check-in), only for events that
    # ended within the last EVALUATION_SEND_WITHIN_DAYS days (so old events are never mailed
    # when the feature is switched on); one reminder after EVALUATION_REMINDER_DAYS to whoever
    # has not answered; answers are taken for EVALUATION_ANSWER_DAYS after the first mails.
    EVALUATION_SEND_AFTER_HOURS = 2
    EVALUATION_SEND_WITHIN_DAYS = 7
    EVALUATION_REMINDER_DAYS = 4
    EVALUATION_ANSWER_DAYS = 21
    # Figures per organisation show only groups of at least this many answers (smaller
    # groups are counted together as "other"), and only once answering has closed.
    EVALUATION_MIN_GROUP = 3
    # TrueType fonts for the certificate PDF (any script); empty: DejaVu Sans where the
    # system has it (fonts-dejavu-core), else the PDF's built-in Helvetica (Latin-1 only).
    CERTIFICATE_FONT = ""
    CERTIFICATE_FONT_BOLD = ""

    # Subscriptions ("bevakning", subscriptions.subscribing): an address that has not
    # followed its confirmation link is deleted after this many days (`flask subscriptions
    # purge`), and the subscribe form takes this many posts per client address.
    SUBSCRIPTION_UNCONFIRMED_DAYS = 3
    SUBSCRIPTION_RATE_LIMIT = "30 per hour"
    # A manage link stops working this many days after the event has ended.
    MANAGE_LINK_DAYS_AFTER_EVENT = 30

    # Rate limits. With several worker processes (gunicorn --workers N) the counts must be
    # shared: set RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0" (a loud warning at
    # start-up says so when memory storage meets several workers).
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Log-in attempts per client address (failures only) and failed attempts per account.
    LOGIN_RATE_LIMIT = "10 per minute"
    LOGIN_ACCOUNT_RATE_LIMIT = "20 per hour"
    SIGNUP_RATE_LIMIT = "600 per minute"
    # Reverse proxies in front of Kvarn whose X-Forwarded-For/-Proto/-Host are trusted
    # (Werkzeug's ProxyFix); 0 when clients connect directly. Behind nginx: 1.
    PROXY_FIX_X_FOR = 0

    # Origins (scheme://host[:port]) whose pages may show the embeddable listing
    # (/embed/events) in an <iframe>: a list, or one text separated by spaces or commas,
    # e.g. KVARN_EMBED_ALLOWED_ORIGINS='["https://intranat.alingsas.se"]'. Empty: no site
    # may. Every other page refuses every frame (frame-ancestors 'none').
    EMBED_ALLOWED_ORIGINS: list[str] | str = []

    # Invitation and password reset links stop working after this many hours (and once used).
    PASSWORD_LINK_HOURS = 24
    # When true, administrators must set up two-step log-in (TOTP) before using staff pages.
    REQUIRE_TWO_STEP_FOR_ADMINS = False

    # The pages a public body must publish (/privacy, /accessibility, /contact, linked from
    # every page's footer). Their default texts, in Swedish and English, are filled from these;
    # a file instance/pages/<page>.<language>.md (privacy, accessibility or contact; sv or en)
    # replaces a page's whole text (README, "Pages a public body must publish").
    # The controller of the personal data: the municipality or organisation running Kvarn.
    ORGANISATION_NAME = "Kvarn"
    # Postal address: a list of lines, or a text with line breaks.
    ORGANISATION_ADDRESS = ""
    CONTACT_EMAIL = ""
    CONTACT_PHONE = ""
    # The data protection officer (dataskyddsombud).
    DPO_EMAIL = ""
    # Registrations are kept this many months after the event, by the retention rules
    # (gallringsbeslut); the privacy notice says so. Then `flask privacy purge` (cron, daily)
    # writes the event's archive record (attendance list and figures: CSV and PDF/A with a
    # SHA-256 checksum file) into ARCHIVE_FOLDER and anonymises the registrations.
    RETENTION_MONTHS = 12
    # Where archive records go: a path, absolute or relative to the instance folder; empty:
    # the instance folder's archive/ (instance/archive in a checkout). Created if missing.
    ARCHIVE_FOLDER = ""
    # TrueType fonts embedded in the archive PDF/A; empty: the DejaVu Sans fonts shipped in
    # app/privacy/fonts (PDF/A needs every font embedded, so no built-in font will do).
    ARCHIVE_FONT = ""
    ARCHIVE_FONT_BOLD = ""
    # The text, HTML and attachments of a sent email are deleted this many days after it was
    # sent (`flask privacy purge`); who it went to, when and its subject stay.
    OUTBOX_KEEP_DAYS = 30
    # Hours the links mailed for a person's own data (download, erasure) work.
    PRIVACY_LINK_HOURS = 48
    # How far the site meets the accessibility requirements: "full", "partial" or "none".
    ACCESSIBILITY_CONFORMANCE = "partial"
    # What is not accessible: a text (one gap a line), a list, or {"sv": [...], "en": [...]}.
    ACCESSIBILITY_KNOWN_GAPS: str | list | dict = []
    # When the statement was last reviewed (YYYY-MM-DD); left out when empty.
    ACCESSIBILITY_REVIEWED = ""
    # Where anyone may report a site to the supervisory authority (DIGG's form).
    ACCESSIBILITY_REPORT_URL = "https://www.digg.se/tdosanmalan"
