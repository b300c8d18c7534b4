"""Cursor pages of one's sessions: ordered by last use and id (a two-column keyset, with a timestamp), on SQLite
and PostgreSQL alike."""

import httpx

from tests import helpers

SESSIONS = "/api/v1/users/me/sessions"


async def test_a_cursor_walk_of_my_sessions_matches_the_whole_list(client: httpx.AsyncClient) -> None:
    email = (await helpers.register(client))["email"]
    tokens = [(await helpers.login(client, email))["access_token"] for _ in range(5)]
    headers = helpers.bearer(tokens[-1])
    whole = await client.get(SESSIONS, params={"size": 100}, headers=headers)
    assert whole.status_code == 200, whole.text

    body = (await client.get(SESSIONS, params={"size": 2}, headers=headers)).json()
    walked = [item["id"] for item in body["items"]]
    while body["next_cursor"] is not None:
        response = await client.get(SESSIONS, params={"size": 2, "cursor": body["next_cursor"]}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        walked += [item["id"] for item in body["items"]]

    assert walked == [item["id"] for item in whole.json()["items"]]
    assert len(set(walked)) == len(tokens)
