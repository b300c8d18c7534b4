"""Kept for features scaffolded before the auth feature existed, which import the caller's dependencies from here.
New code imports them from `app.features.auth.dependencies`."""

from app.features.auth.dependencies import AdminUser, CurrentUser, DetachedCurrentUser

__all__ = ["AdminUser", "CurrentUser", "DetachedCurrentUser"]
