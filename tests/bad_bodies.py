"""Bodies every JSON route must refuse with a 4xx naming the problem, never a 500."""

from __future__ import annotations

from conftest import Harness

JSON = {"Content-Type": "application/json"}

#: (body, Content-Type, words of the message, kind: any body sent as JSON must be an
#: object; "empty" and "type" (not sent as JSON) only where a JSON object is the body)
BODIES = [
    (b'{"name": "primary",', JSON, "malformed JSON", "json"),
    (b"{'name': 'primary'}", JSON, "malformed JSON", "json"),
    (b'{"name": NaN]', JSON, "malformed JSON", "json"),
    (b"\xff\xfe{}", JSON, "malformed JSON", "json"),
    (b"[" * 100_000, JSON, "malformed JSON", "json"),
    (b'[{"name": "primary"}]', JSON, "expected a JSON object, got an array", "json"),
    (b'"primary"', JSON, "expected a JSON object, got a string", "json"),
    (b"42", {"Content-Type": "application/json; charset=utf-8"},
     "expected a JSON object, got a number", "json"),
    (b"null", {"Content-Type": "application/merge-patch+json"},
     "expected a JSON object, got null", "json"),
    (b"", JSON, "the request body is empty", "empty"),
    (b"  \n", JSON, "the request body is empty", "empty"),
    (b'{"name": "primary"}', {"Content-Type": "text/plain"}, "Content-Type: application/json",
     "type"),
    (b'{"name": "primary"}', {}, "without a Content-Type", "type"),
]


def refuses_bad_bodies(vigil: Harness, method: str, path: str,
                       exempt: tuple[str, ...]) -> None:
    """Each of BODIES (except the ``exempt`` kinds) is a 400 naming ``body``."""
    for raw, headers, words, kind in BODIES:
        resp = vigil.client.request(method, path, content=raw,
                                    headers={**vigil.auth, **headers})
        if kind in exempt:
            assert resp.status_code != 400, (raw[:40], headers, resp.text)
            continue
        assert resp.status_code == 400, (raw[:40], headers, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "malformed_body" and error["field"] == "body", error
        assert words in error["message"], (raw[:40], error)
