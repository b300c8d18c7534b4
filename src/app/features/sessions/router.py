from fastapi import APIRouter, status

from app.core.database import DBSession
from app.core.identifiers import ResourceID
from app.core.pagination import Page, Pagination
from app.features.auth.dependencies import CurrentSessionID, CurrentUser
from app.features.sessions import service
from app.features.sessions.dependencies import Policy
from app.features.sessions.schemas import SessionRead, SessionsRevoked
from app.shared.routing import ForgeRoute

__all__ = ["router"]

# The signed-in user's own sessions. Served before the users' routes: /users/me/... must not be taken for
# /users/{user_id}/....
router = APIRouter(prefix="/users/me/sessions", tags=["sessions"], route_class=ForgeRoute)


@router.get("")
async def list_sessions(
    session: DBSession, user: CurrentUser, current: CurrentSessionID, policy: Policy, pagination: Pagination
) -> Page[SessionRead]:
    """The caller's live sessions, the most recently used first; `current` marks the one asking."""
    return await service.list_sessions(session, user_id=user.id, current=current, policy=policy, params=pagination)


@router.post("/revoke-all")
async def revoke_my_sessions(session: DBSession, user: CurrentUser, policy: Policy) -> SessionsRevoked:
    """Sign out everywhere, this session included."""
    revoked = await service.revoke_all(session, user_id=user.id, policy=policy, reason="user")
    return SessionsRevoked(revoked=revoked)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_session(session_id: ResourceID, session: DBSession, user: CurrentUser, policy: Policy) -> None:
    """Revoke one of the caller's sessions (its tokens stop working at once); another user's is 404."""
    await service.revoke(session, user_id=user.id, session_id=session_id, policy=policy)
