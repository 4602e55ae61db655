"""Every checkpoint a gate names must load in vLLM and answer on its deployment."""
from __future__ import annotations

import pytest
import requests

from fixtures.harness.credentials import AUTH_STATUS, key_problem


def test_answers_a_chat_request(deployment, endpoints):
    # The server is asked for here, in the test: a server that cannot start fails this check.
    endpoint = endpoints(deployment.hardware, deployment.model, deployment.mode)
    url = f"{endpoint.base_url}/v1/chat/completions"
    try:
        resp = requests.post(url, headers=endpoint.headers, timeout=300, json={
            "model": endpoint.model, "temperature": 0, "max_tokens": 8,
            "messages": [{"role": "user", "content": "Reply with one word: hello."}],
        })
    except requests.RequestException as exc:
        if (fault := endpoint.fault(f"{deployment.id}: {type(exc).__name__}: {exc}")) is not None:
            raise fault from exc
        raise
    if resp.status_code in AUTH_STATUS:
        pytest.fail(key_problem(url, resp.status_code, bool(endpoint.api_key)), pytrace=False)
    assert resp.status_code == 200, f"{deployment.id}: HTTP {resp.status_code}: {resp.text[:300]}"
    body = resp.json()
    assert body["usage"]["completion_tokens"] > 0, f"{deployment.id}: the server generated no tokens: {body}"
