"""Every checkpoint a gate names must load in vLLM and answer on its deployment."""
from __future__ import annotations

import requests


def test_answers_a_chat_request(deployment, endpoints):
    # The server is asked for here, in the test: a server that cannot start fails this check.
    endpoint = endpoints(deployment.hardware, deployment.model, deployment.mode)
    resp = requests.post(f"{endpoint.base_url}/v1/chat/completions", headers=endpoint.headers, timeout=300, json={
        "model": endpoint.model, "temperature": 0, "max_tokens": 8,
        "messages": [{"role": "user", "content": "Reply with one word: hello."}],
    })
    assert resp.status_code == 200, f"{deployment.id}: HTTP {resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert body["usage"]["completion_tokens"] > 0, f"{deployment.id}: the server generated no tokens: {body}"
