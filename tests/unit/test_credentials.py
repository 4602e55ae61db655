"""Secrets are never written: argv, environment, JSON text and results files show them as ***."""
from __future__ import annotations

import json
import stat

from fixtures.harness.credentials import (REDACTED, key_problem, private_json, redact_argv, redact_env, redact_obj,
                                          redact_text, secret_values)
from fixtures.harness.results import ResultsFile


def test_the_api_key_option_is_hidden_in_both_spellings_and_known_values_anywhere():
    argv = ["-m", "smoke", "--api-key", "sk-first-1234", "--api-key=sk-second-5678",
            "--server-url", "m=http://user:hf_tok_abcdefgh@host/v1"]
    assert redact_argv(argv, ["hf_tok_abcdefgh"]) == [
        "-m", "smoke", "--api-key", REDACTED, f"--api-key={REDACTED}", "--server-url", f"m=http://user:{REDACTED}@host/v1"]


def test_secret_values_come_from_secret_named_variables_of_a_real_length():
    env = {"HF_TOKEN": "hf_abcdefgh", "MY_PASSWORD": "correct horse", "HF_HUB_DISABLE_TOKEN": "1",
           "PATH": "/usr/bin", "api_key_file": "/tmp/k/secret.json"}
    assert set(secret_values("sk-live-key1", env)) == {"hf_abcdefgh", "correct horse", "/tmp/k/secret.json",
                                                        "sk-live-key1"}
    assert redact_env(env)["HF_TOKEN"] == REDACTED and redact_env(env)["PATH"] == "/usr/bin"


def test_json_escaped_secrets_are_hidden_too():
    secret = 'pa"ss\\word-1234'
    text = json.dumps({"command": ["x", f"--token={secret}"]})
    assert secret not in json.loads(redact_text(text, [secret]))["command"][1]
    assert redact_obj({"a": [f"k={secret}", 3, ("t", secret)]}, [secret]) == {"a": [f"k={REDACTED}", 3,
                                                                                   ("t", REDACTED)]}


def test_results_file_never_holds_a_secret(tmp_path):
    results = ResultsFile(tmp_path / "results.json", {"command": ["--api-key", "sk-in-header-99"]},
                          secrets=("sk-in-header-99", "hf_in_test_abcdef"))
    results.add_test({"nodeid": "t", "outcome": "failed", "message": "401 with hf_in_test_abcdef", "properties": {}})
    text = (tmp_path / "results.json").read_text()
    assert "sk-in-header-99" not in text and "hf_in_test_abcdef" not in text and REDACTED in text


def test_a_private_json_file_is_the_users_alone_and_removed_after():
    with private_json({"spec": {"backend": {"api_key": "sk-x"}}}, "gate-test-") as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert json.loads(path.read_text())["spec"]["backend"]["api_key"] == "sk-x"
    assert not path.exists() and not path.parent.exists()


def test_a_refused_key_says_whether_one_was_given():
    assert "none was given" in key_problem("http://h/v1/models", 401, key_given=False)
    assert "refused the API key" in key_problem("http://h/v1/models", 403, key_given=True)


def test_a_short_key_hides_itself_not_the_words_that_contain_it(tmp_path):
    results = ResultsFile(tmp_path / "results.json", {"command": ["--api-key", "test"]}, secrets=("test",))
    results.add_test({"nodeid": "suites/x.py::test_a", "outcome": "failed", "message": "key test refused",
                      "properties": {}})
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["command"] == ["--api-key", REDACTED] and doc["tests"][0]["nodeid"] == "suites/x.py::test_a"
    assert doc["tests"][0]["message"] == f"key {REDACTED} refused"
