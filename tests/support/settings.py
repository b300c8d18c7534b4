"""The suite's settings factory, fixed test keys and the shared services' URLs: a library, so that test modules
import it from here and tests/conftest.py keeps only fixtures.

Test runs share the PostgreSQL server and Redis: under pytest-xdist each worker empties and recreates databases of
its own (FORGE_TEST_DATABASE_URL's name plus the worker's id), and every test process keeps to its own Redis keys
and pub/sub channel, which no database number separates (another worker's or run's message would be received).
"""

import os
import uuid
from typing import Any

from app.config import Settings
from tests.support import databases, processes

__all__ = [
    "BASE_URL",
    "PRODUCTION_SECRETS",
    "TEST_BLIND_INDEX_KEY",
    "TEST_CACHE_CHANNEL",
    "TEST_ENCRYPTION_KEY",
    "TEST_ENDPOINTS_CHANNEL",
    "TEST_OTHER_ENCRYPTION_KEY",
    "TEST_REDIS_PREFIX",
    "XDIST_WORKER",
    "make_settings",
    "redis_url_or_skip",
    "service_url_or_skip",
]

BASE_URL = "http://testserver"

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
TEST_RUN_ID = uuid.uuid4().hex[:12]
TEST_REDIS_PREFIX = f"forge-test:{TEST_RUN_ID}:"
TEST_ENDPOINTS_CHANNEL = f"{TEST_REDIS_PREFIX}endpoints"
TEST_CACHE_CHANNEL = f"{TEST_REDIS_PREFIX}cache"

# Fixed test keys (urlsafe base64 of 32 bytes), so that tests never generate key files.
TEST_ENCRYPTION_KEY = "9aEJGeHjd-o4ogX49IH5QorLEM-vd5-E_S7e556RU0c="
TEST_OTHER_ENCRYPTION_KEY = "GVxmgdhnbQoy8lU2JIdGcXcCwdVQGlZmld9beLaB3UE="
TEST_BLIND_INDEX_KEY = "HXRkzhTTCVk55nJfO3nNxMZQCGkY_j1kwaEndvN1bw0="

# Settings that production accepts: real, distinct secrets, and a mail server.
PRODUCTION_SECRETS: dict[str, Any] = {
    "environment": "production",
    "encryption_keys": TEST_ENCRYPTION_KEY,
    "blind_index_key": TEST_BLIND_INDEX_KEY,
    "secret_key": "qEdHwnHqRdJgMUn3NPAano4vfhxPZgsMFwmmopGqAgvk28_FjBf0bygjCKep4Lh4",
    "api_key_pepper": "mj_fhhnQkW0XzQT5UHxXak805Xz5iBflWeAIXfTQJIK49scqrQpq7giZyXgTUc2j",
    # Production keeps /metrics off the app's port unless scrapers must present this (or FORGE_METRICS_PORT is set).
    "metrics_token": "mIR5tGkqUj3pReQzaAY2JpwkdK97FDIytZ_DdSfvQVpbpwVGGowc64NLRhTwmrFw",
    # Production sends its mail (docs/mail.md): it refuses the development backends and address.
    "mail_backend": "smtp",
    "mail_from": "Forge Tests <noreply@forge.test>",
    # Mail links open the web app, over https in production.
    "frontend_url": "https://app.forge.test",
}


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings: explicit values only (no .env), and cheap Argon2 parameters so that the suite stays fast."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "password_hash_memory_kib": 1024,
        "password_hash_iterations": 1,
        "log_level": "WARNING",
        "encryption_keys": TEST_ENCRYPTION_KEY,
        "blind_index_key": TEST_BLIND_INDEX_KEY,
        # Generous limits, so that tests of other features can register and log in freely; the rate-limit tests
        # set their own.
        "rate_limit_default": "100000/minute",
        "rate_limit_login": "100000/minute",
        "rate_limit_login_account": "100000/minute",
        "rate_limit_register": "100000/minute",
        "rate_limit_auth_failures": "100000/minute",
        "rate_limit_mfa": "100000/minute",
        "rate_limit_mfa_account": "100000/minute",
        "rate_limit_password_reset": "100000/minute",
        "rate_limit_password_reset_account": "100000/minute",
        "rate_limit_email_verification": "100000/minute",
        # Each test's writes stay in its rolled-back transaction, invisible to other connections: an instance
        # checking the stored registry version would undo the test's own endpoint specs. The cross-instance
        # tests turn it on.
        "dynamic_endpoints_sync_seconds": 0,
        # No built-in hourly job (the events' and webhook deliveries' purges): an app alive at its tick would enqueue
        # a job no test asked for. The purges' tests ask for them.
        "events_retention_days": 0,
        "webhook_delivery_retention_days": 0,
        "dynamic_endpoints_channel": TEST_ENDPOINTS_CHANNEL,
        "cache_channel": TEST_CACHE_CHANNEL,
        "rate_limit_key_prefix": f"{TEST_REDIS_PREFIX}rl:",
        # Mail a test's app sends goes to the (captured) stderr, not into the working directory's var/mail/; the mail
        # tests point it at their own SMTP server or directory.
        "mail_backend": "console",
        # The app has job types of its own (mail.send): a worker embedded in every test's app would take the SQLite
        # file's write lock between a test transaction's read and its write (SQLITE_BUSY). The tests of the
        # embedded worker, and those that need their app's jobs run, turn it on.
        "jobs_run_in_server": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def service_url_or_skip(variable: str, service: str) -> str:
    """The URL in `variable`; without it the test skips, or fails under FORGE_REQUIRE_SERVICES=1 (CI)."""
    url = os.environ.get(variable)
    if url:
        return databases.for_worker(url, XDIST_WORKER) if variable == "FORGE_TEST_DATABASE_URL" else url
    return processes.unavailable(f"{variable} is not set: {service} tests need a server (see README)")


def redis_url_or_skip() -> str:
    return service_url_or_skip("FORGE_TEST_REDIS_URL", "Redis")
