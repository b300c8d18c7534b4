"""Every feature's models, imported so that `Base.metadata` knows all tables (Alembic reads it from here)."""

from app.core.database import Base
from app.core.events import Event
from app.core.idempotency import IdempotencyRecord
from app.core.jobs import Job
from app.core.response_cache import CacheVersion
from app.features.api_keys.models import ApiKey
from app.features.audit.models import AuditEntry
from app.features.dynamic_endpoints.models import EndpointDocument, EndpointRegistry, EndpointSpec
from app.features.mfa.models import RecoveryCode, TotpCredential
from app.features.oidc.models import OidcFlow, OidcLoginCode, UserIdentity
from app.features.orders.models import Order, OrderItem
from app.features.products.models import Product
from app.features.sessions.models import SpentRefreshToken, UserSession
from app.features.users.models import AccountToken, User
from app.features.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccountToken",
    "ApiKey",
    "AuditEntry",
    "Base",
    "CacheVersion",
    "EndpointDocument",
    "EndpointRegistry",
    "EndpointSpec",
    "Event",
    "IdempotencyRecord",
    "Job",
    "OidcFlow",
    "OidcLoginCode",
    "Order",
    "OrderItem",
    "Product",
    "RecoveryCode",
    "SpentRefreshToken",
    "TotpCredential",
    "User",
    "UserIdentity",
    "UserSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]

metadata = Base.metadata
