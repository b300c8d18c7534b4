"""The caller dependencies users' routes take. They are defined in the auth feature, where the caller is worked out;
features scaffolded before the auth feature existed import them from here too, so this module stays where it was."""

from app.features.auth.dependencies import AdminUser, CurrentUser, DetachedCurrentUser

__all__ = ["AdminUser", "CurrentUser", "DetachedCurrentUser"]
