"""The caller dependencies users' routes take, and what mailing a user a link takes (`AccountMailer`).

The caller dependencies are defined in the auth feature, where the caller is worked out; features scaffolded before
the auth feature existed import them from here too, so this module keeps re-exporting them."""

from typing import Annotated

from fastapi import Depends

from app.core.context import Context
from app.features.auth.dependencies import AdminUser, CurrentUser, DetachedCurrentUser, VerifiedUser
from app.features.users.tokens import AccountMail

__all__ = ["AccountMailer", "AdminUser", "CurrentUser", "DetachedCurrentUser", "VerifiedUser"]


def get_account_mail(context: Context) -> AccountMail:
    return AccountMail.of(context.settings, mailer=context.mailer, hasher=context.secret_hasher)


AccountMailer = Annotated[AccountMail, Depends(get_account_mail)]
