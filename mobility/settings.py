"""Django settings for Mobility. Every setting that varies by machine is read here from the environment.

Environment variables (all optional on a laptop; see docs/deployment.md):

- ``MOBILITY_PRODUCTION``  "1" turns on HTTPS-only cookies, HSTS and SSL redirect, and requires SECRET_KEY.
- ``SECRET_KEY``           Django's secret; on a laptop one is generated once into ``var/secret_key``.
- ``DEBUG``                "1" for tracebacks in the browser (never in production).
- ``DATABASE_URL``         default ``sqlite:///var/mobility.sqlite3``; ``postgresql://user@host:5432/db`` for PostgreSQL.
- ``ALLOWED_HOSTS``        comma-separated, default ``127.0.0.1,localhost``.
- ``CSRF_TRUSTED_ORIGINS`` comma-separated origins behind a reverse proxy (``https://mobility.example.org``).
- ``REDIS_URL``            when set, background jobs (huey) use Redis; otherwise a SQLite queue in ``var/``.
- ``MOBILITY_VAR_DIR``     where the database, uploads and job queue live (default ``./var``).
- ``MOBILITY_MAX_UPLOAD_MB`` largest file an import accepts (default 200).
- ``MOBILITY_SYNC_JOBS``   "1" runs background jobs in the request (tests, single-process demos).
- ``EMAIL_URL``            not yet used; e-mail goes to the console.
- ``MOBILITY_SESSION_HOURS``        a signed-in session ends this long after sign-in (default 12).
- ``MOBILITY_SESSION_IDLE_MINUTES`` and after this long without a request (default 60).
- ``MOBILITY_LOGIN_FAILURE_LIMIT``  failed sign-ins for one username from one address before lockout (default 5).
- ``MOBILITY_LOGIN_LOCKOUT_MINUTES`` how long that lockout lasts (default 15).
- ``MOBILITY_CSP_REPORT_URI``       where browsers send Content-Security-Policy violation reports (default none).
- ``MOBILITY_TRUST_X_FORWARDED_FOR`` "1" behind a proxy that appends the client address to X-Forwarded-For.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MOBILITY_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

PRODUCTION = env_bool("MOBILITY_PRODUCTION")
DEBUG = env_bool("DEBUG") and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise RuntimeError("SECRET_KEY must be set when MOBILITY_PRODUCTION=1")
    # A laptop keeps one generated key so sessions survive restarts without any set-up.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "csp",
    "axes",
    # Only for its templates and static files: the API docs pages load Swagger UI from here, not a CDN.
    "ninja",
    "mobility.core",
    "mobility.gazetteer",
    "mobility.tracking",
    "mobility.publishing",
    "mobility.collection",
    "mobility.flows",
    "mobility.restrictions",
    "mobility.registration",
    "mobility.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "mobility.core.security.SessionExpiryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout raised during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mobility.urls"
WSGI_APPLICATION = "mobility.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mobility.web.context.navigation",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'mobility.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        # Connections are kept for a minute on both: opening one (and, on SQLite, its PRAGMAs) per
        # request costs more than a phone's whole submission.
        DATABASE_URL,
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while an import or the job worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA busy_timeout=20000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: records the HTTP Digest hash (for ODK Collect) whenever a password is set.
    {"NAME": "mobility.collection.auth.DigestHA1Recorder"},
]
# Django's ModelBackend, which also records the Digest hash at a password sign-in (for accounts made
# by create_user / createsuperuser, which store the password without the validators' hook).
# django-axes comes first: it refuses a locked-out username+address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "mobility.core.security.LockoutBackend",
    "mobility.collection.auth.DigestRecordingBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Absolute and idle limits of a signed-in session (enforced by mobility.core.security.SessionExpiryMiddleware).
SESSION_COOKIE_AGE = int(float(os.environ.get("MOBILITY_SESSION_HOURS", "12")) * 3600)
SESSION_IDLE_SECONDS = int(float(os.environ.get("MOBILITY_SESSION_IDLE_MINUTES", "60")) * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Login lockout (django-axes): N failures for one username from one address lock that pair for a while.
AXES_FAILURE_LIMIT = int(os.environ.get("MOBILITY_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("MOBILITY_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "mobility.core.security.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Axes keeps failed attempts only: no row per successful sign-in (phones sign in on every request).
AXES_DISABLE_ACCESS_LOG = True
# "1" only behind a reverse proxy that appends the client's address to X-Forwarded-For (docs/deployment.md).
TRUST_X_FORWARDED_FOR = env_bool("MOBILITY_TRUST_X_FORWARDED_FOR")
AXES_CLIENT_IP_CALLABLE = "mobility.core.security.client_ip"

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("pt", "Português"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "mobility" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    # Uploads live under var/ (outside the web root); only static files are served by whitenoise.
    "default": {
        "BACKEND": "mobility.core.storage.UploadStorage",  # file names that fit the file system
        "OPTIONS": {"location": VAR_DIR / "uploads"},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("MOBILITY_PLAIN_STATIC")
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "uploads"
# A Parquet copy of flow counts for ad-hoc queries through DuckDB: a cache, safe to delete.
FLOWS_ANALYTICS_DIR = Path(os.environ.get("MOBILITY_FLOWS_ANALYTICS_DIR", VAR_DIR / "analytics" / "flows"))
MAX_UPLOAD_BYTES = int(float(os.environ.get("MOBILITY_MAX_UPLOAD_MB", "200")) * 1024 * 1024)

# --- data collection (OpenRosa: ODK Collect, KoboCollect, Enketo) ---------------------------------
OPENROSA_REALM = os.environ.get("MOBILITY_OPENROSA_REALM", "Mobility")  # changing it voids Digest hashes
# Largest submission POST (XML + attachments); unset = MAX_UPLOAD_BYTES. Keep it at or below that.
OPENROSA_MAX_POST_BYTES = (
    int(float(os.environ["MOBILITY_OPENROSA_MAX_POST_MB"]) * 2**20)
    if os.environ.get("MOBILITY_OPENROSA_MAX_POST_MB")
    else None
)
OPENROSA_NONCE_SECONDS = int(os.environ.get("MOBILITY_OPENROSA_NONCE_SECONDS", "300"))
OPENROSA_ALLOW_BASIC_HTTP = env_bool("MOBILITY_OPENROSA_ALLOW_BASIC_HTTP")
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "mobility.core.uploads.SizeLimitUploadHandler",
    "mobility.core.uploads.ContentCheckUploadHandler",  # an .xlsx must be a workbook, a .csv text...
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- background jobs ------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
SYNC_JOBS = env_bool("MOBILITY_SYNC_JOBS")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "mobility",
        "url": REDIS_URL,
        "immediate": SYNC_JOBS,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "mobility",
        "filename": str(VAR_DIR / "jobs.sqlite3"),
        "immediate": SYNC_JOBS,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# --- security (docs/deployment.md, "Security") ---------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie: htmx and the API docs take the token from the page.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy (django-csp): scripts only from this server's own files, never inline, never
# eval; no plugins, no framing, forms post only here. Styles too come only from files: no template
# carries a style attribute or a <style> block (scripts set styles through the DOM, which CSP allows).
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:"],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_SELF],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    }
}
if os.environ.get("MOBILITY_CSP_REPORT_URI"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = os.environ.get("MOBILITY_CSP_REPORT_URI")

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Trusted only because the reverse proxy in front (docs/deployment.md) always sets this header
    # itself, overwriting whatever the client sent; without such a proxy, do not run in production mode.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- logging: never personal data; row values are not logged --------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"personal_data": {"()": "mobility.registration.logging.PersonalDataLogFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["personal_data"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # axes: failed sign-ins and lockouts are warnings; its start-up banner is not worth a line per command.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Error reports (DEBUG page, mails to ADMINS) about registration show no values (docs/data-protection.md).
DEFAULT_EXCEPTION_REPORTER = "mobility.registration.logging.PersonalDataExceptionReporter"

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

NINJA_PAGINATION_MAX_LIMIT = 10_000

# Mobility's own knobs
MOBILITY = {
    # Default sex-and-age bands (DTM practice); an operation may set its own.
    "AGE_BANDS": [(0, 4), (5, 11), (12, 17), (18, 59), (60, None)],
    # Name matcher: accept a fuzzy match at or above this score, and only when the runner-up is
    # at least MATCH_MARGIN points behind.
    "MATCH_THRESHOLD": float(os.environ.get("MOBILITY_MATCH_THRESHOLD", "88")),
    "MATCH_MARGIN": float(os.environ.get("MOBILITY_MATCH_MARGIN", "4")),
    # Disclosure control: a published breakdown cell with 0 < individuals < this is suppressed.
    "DISCLOSURE_THRESHOLD": int(os.environ.get("MOBILITY_DISCLOSURE_THRESHOLD", "5")),
}
