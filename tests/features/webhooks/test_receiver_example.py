"""docs/webhooks.md's Python receiver, run as written, takes a message signed as deliveries sign it, refuses a
tampered one and takes a repeated one without handling it twice."""

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.database import utcnow
from app.features.webhooks.signing import message_body, new_message_id, new_secret, signed_headers

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def _receiver_example() -> str:
    section = DOC.read_text().split("## Verifying a message", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "docs/webhooks.md lost its receiver example"
    return match.group(1)


async def test_the_documented_receiver_verifies_what_deliveries_send(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = new_secret()
    monkeypatch.setenv("FORGE_WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {}
    exec(compile(_receiver_example(), str(DOC), "exec"), namespace)  # noqa: S102 - the documentation's own code
    body = message_body("order.placed", utcnow(), {"id": 42}).encode()
    headers = signed_headers([secret], message_id=new_message_id(), sent_at=utcnow(), body=body)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=namespace["app"]), base_url="http://r") as client:
        assert (await client.post("/hooks/forge", content=body, headers=headers)).status_code == 204
        assert (await client.post("/hooks/forge", content=body, headers=headers)).status_code == 204
        assert namespace["seen"] == {headers["webhook-id"]}
        tampered = body.replace(b"42", b"43")
        assert (await client.post("/hooks/forge", content=tampered, headers=headers)).status_code == 400
        other = signed_headers([new_secret()], message_id=new_message_id(), sent_at=utcnow(), body=body)
        assert (await client.post("/hooks/forge", content=body, headers=other)).status_code == 400
