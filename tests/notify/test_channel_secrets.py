"""Channel secrets are write-only: masked in every answer (viewers and admins alike) and in
``vigil export``, and a masked value sent back keeps the stored secret. On real SQLite and
PostgreSQL, with real sends to a local receiver."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from channel_servers import RecordingServer
from conftest import Harness
from vigil import configfiles
from vigil.notify.service import MASK
from vigil.tenants.models import DEFAULT_TENANT_ID

ROUTING_KEY = "R0utingKey" + "r" * 18 + "Z9y8"  # 32 characters
SLACK_PATH = "/services/T0001/B0002/SlackHookSecret123456"
SID = "AC" + "0123456789abcdef" * 2

#: kind -> (config, the secret strings that must never be shown)
CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "email": ({"smtp_host": "smtp.example.com", "username": "vigil", "from_address":
               "vigil@example.com", "password": "SmtpPassw0rdSecret"},
              ["SmtpPassw0rdSecret"]),
    "slack": ({"webhook_url": "https://hooks.slack.com" + SLACK_PATH},
              ["SlackHookSecret123456"]),
    "slack-bot": ({"token": "xoxb-1111-2222-SlackBotTokenSecret", "channel": "#ops"},
                  ["SlackBotTokenSecret", "xoxb-1111-2222"]),
    "teams": ({"webhook_url": "https://prod-1.westeurope.logic.azure.com:443/workflows/"
               "0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke"
               "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
               "&sig=TeamsSigSecretValue42"}, ["TeamsSigSecretValue42"]),
    "webhook": ({"url": "https://hookuser:UrlPassSecret77@hooks.example.com/in?key=QueryKeySecret",
                 "headers": {"Authorization": "Bearer HeaderBearerSecret99",
                             "X-Api-Key": "ApiKeyHeaderSecret", "X-Short": "abc"},
                 "secret": "SigningSecret-0123456789"},
                ["UrlPassSecret77", "QueryKeySecret", "HeaderBearerSecret99",
                 "ApiKeyHeaderSecret", "SigningSecret-0123456789", "abc"]),
    "sms": ({"account_sid": SID, "auth_token": "TwilioAuthTokenSecret",
             "from_number": "+15550001111"}, ["TwilioAuthTokenSecret"]),
    "voice": ({"account_sid": SID, "auth_token": "TwilioVoiceTokenSecret",
               "from_number": "+15550001111"}, ["TwilioVoiceTokenSecret"]),
    "pagerduty": ({"routing_key": ROUTING_KEY}, [ROUTING_KEY[:28]]),
    "opsgenie": ({"api_key": "OpsgenieApiKeySecret"}, ["OpsgenieApiKeySecret"]),
    "apprise": ({"url": "discord://123456789/DiscordWebhookTokenSecretValue"},
                ["DiscordWebhookTokenSecret", "123456789"]),
}


def kind_of(case: str) -> str:
    return case.partition("-")[0]


def make(h: Harness, name: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    resp = h.client.post("/api/v1/channels", headers=h.auth,
                         json={"name": name, "kind": kind, "config": config})
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def shown(h: Harness, key: str) -> str:
    resp = h.client.get("/api/v1/channels", headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.text
    return str(resp.text)


def stored(h: Harness, channel_id: int) -> dict[str, Any]:
    """The stored config, decrypted (it is encrypted at rest: test_secrets_at_rest.py)."""
    from vigil.notify.models import NotificationChannel
    from vigil.notify.service import channel_config

    with h.ctx.db.read() as s:
        row = s.get(NotificationChannel, channel_id)
        assert row is not None
        return channel_config(s, row)


@pytest.mark.parametrize("case", list(CASES))
def test_every_kinds_secret_is_masked_for_viewers_and_admins(vigil: Harness,
                                                             case: str) -> None:
    config, secrets = CASES[case]
    made = make(vigil, case, kind_of(case), config)
    viewer = vigil.key_for("viewer")
    answers = {"create": str(made), "viewer": shown(vigil, viewer),
               "admin": shown(vigil, vigil.admin_key)}
    put = vigil.client.put(f"/api/v1/channels/{made['id']}", headers=vigil.auth,
                           json={"name": case, "kind": kind_of(case), "config": made["config"],
                                 "rate_per_minute": 30})
    assert put.status_code == 200, put.text
    answers["update"] = put.text
    for who, text in answers.items():
        for secret in secrets:
            assert secret not in text, (who, secret, text)
    assert MASK in answers["admin"]
    # ... and the masked round trip kept every secret as it was.
    assert stored(vigil, made["id"]) == config


def test_masks_still_show_what_the_value_is(vigil: Harness) -> None:
    made = make(vigil, "hook", "webhook", CASES["webhook"][0])
    config = made["config"]
    assert config["url"] == f"https://hookuser:{MASK}@hooks.example.com/in?key={MASK}"
    assert config["headers"] == {"Authorization": f"{MASK}et99",
                                 "X-Api-Key": f"{MASK}cret", "X-Short": MASK}
    assert config["secret"] == f"{MASK}6789"
    teams = make(vigil, "teams", "teams", CASES["teams"][0])["config"]["webhook_url"]
    assert teams.startswith("https://prod-1.westeurope.logic.azure.com:443/workflows/")
    assert teams.endswith(f"&sig={MASK}")
    slack = make(vigil, "slack", "slack", CASES["slack"][0])["config"]["webhook_url"]
    assert slack == f"https://hooks.slack.com/{MASK}3456"
    apprise = make(vigil, "apprise", "apprise", CASES["apprise"][0])["config"]["url"]
    assert apprise == f"discord://{MASK}alue"


def test_round_trip_keeps_the_webhook_secrets_working(vigil: Harness) -> None:
    with RecordingServer() as srv:
        config = {"url": f"{srv.url}/hook?token=QueryTokenSecret",
                  "headers": {"Authorization": "Bearer HeaderBearerSecret99"},
                  "secret": "SigningSecret-0123456789"}
        made = make(vigil, "hook", "webhook", config)
        (got,) = [c for c in vigil.client.get("/api/v1/channels", headers=vigil.auth).json()
                  if c["id"] == made["id"]]
        assert "HeaderBearerSecret99" not in str(got)
        # Change something else, send the rest back as shown.
        got["config"]["timeout"] = 5
        put = vigil.client.put(f"/api/v1/channels/{made['id']}", headers=vigil.auth, json={
            k: got[k] for k in ("name", "kind", "config", "personal", "enabled",
                                "rate_per_minute")})
        assert put.status_code == 200, put.text
        sent = vigil.client.post(f"/api/v1/channels/{made['id']}/test", headers=vigil.auth,
                                 json={"address": ""})
        assert sent.status_code == 200 and sent.json()["ok"] is True, sent.text
        (req,) = srv.wait()
        assert req.headers["authorization"] == "Bearer HeaderBearerSecret99"
        assert req.query == {"token": ["QueryTokenSecret"]}
        assert req.headers["x-vigil-signature"].startswith("v1=")
    assert stored(vigil, made["id"]) == {**config, "timeout": 5}


def test_round_trip_keeps_url_credentials_and_provider_keys(vigil: Harness) -> None:
    with RecordingServer() as srv:
        host = srv.url.removeprefix("http://")
        made = {
            "basic": make(vigil, "basic", "webhook",
                          {"url": f"http://hookuser:UrlPassSecret77@{host}/basic"}),
            "slack": make(vigil, "slack", "slack", {"webhook_url": srv.url + SLACK_PATH}),
            "pd": make(vigil, "pd", "pagerduty", {"routing_key": ROUTING_KEY,
                                                  "base_url": srv.url}),
            "og": make(vigil, "og", "opsgenie", {"api_key": "OpsgenieApiKeySecret",
                                                 "base_url": srv.url}),
        }
        for c in made.values():
            put = vigil.client.put(f"/api/v1/channels/{c['id']}", headers=vigil.auth,
                                   json={"name": c["name"], "kind": c["kind"],
                                         "config": c["config"]})
            assert put.status_code == 200, put.text
            assert MASK in str(put.json()["config"])
            sent = vigil.client.post(f"/api/v1/channels/{c['id']}/test", headers=vigil.auth,
                                     json={"address": ""})
            assert sent.json()["ok"] is True, (c["name"], sent.text)
        basic, slack, pd, og = srv.wait(4)
    assert basic.headers["authorization"] == "Basic " + base64.b64encode(
        b"hookuser:UrlPassSecret77").decode()
    assert slack.path == SLACK_PATH
    assert pd.json["routing_key"] == ROUTING_KEY
    assert og.headers["authorization"] == "GenieKey OpsgenieApiKeySecret"


def test_a_new_secret_replaces_the_stored_one(vigil: Harness) -> None:
    made = make(vigil, "hook", "webhook", CASES["webhook"][0])
    config = {**made["config"], "headers": {**made["config"]["headers"],
                                            "Authorization": "Bearer NewBearerToken0"}}
    put = vigil.client.put(f"/api/v1/channels/{made['id']}", headers=vigil.auth,
                           json={"name": "hook", "kind": "webhook", "config": config})
    assert put.status_code == 200, put.text
    now = stored(vigil, made["id"])
    assert now["headers"]["Authorization"] == "Bearer NewBearerToken0"
    assert now["headers"]["X-Api-Key"] == "ApiKeyHeaderSecret"
    assert now["secret"] == "SigningSecret-0123456789"


@pytest.mark.parametrize(("config", "field"), [
    ({"routing_key": f"{MASK}Z9y9"}, "config.routing_key"),  # not what is shown
    ({"routing_key": f"{MASK}", "base_url": "https://events.pagerduty.com"},
     "config.routing_key"),
])
def test_a_mask_that_is_not_the_stored_secret_is_refused(vigil: Harness,
                                                         config: dict[str, Any],
                                                         field: str) -> None:
    made = make(vigil, "pd", "pagerduty", {"routing_key": ROUTING_KEY})
    put = vigil.client.put(f"/api/v1/channels/{made['id']}", headers=vigil.auth,
                           json={"name": "pd", "kind": "pagerduty", "config": config})
    assert put.status_code == 422, put.text
    assert put.json()["error"]["field"] == field
    assert stored(vigil, made["id"]) == {"routing_key": ROUTING_KEY}
    # A new channel has no stored secret to keep: the mask is refused, nothing is made.
    new = vigil.client.post("/api/v1/channels", headers=vigil.auth, json={
        "name": "pd2", "kind": "pagerduty", "config": made["config"]})
    assert new.status_code == 422 and new.json()["error"]["field"] == "config.routing_key"
    names = [c["name"] for c in vigil.client.get("/api/v1/channels", headers=vigil.auth).json()]
    assert names == ["pd"]


def test_export_masks_secrets_and_applies_back_keeping_them(vigil: Harness,
                                                            tmp_path: Path) -> None:
    config, secrets = CASES["webhook"]
    made = make(vigil, "hook", "webhook", config)
    with vigil.ctx.db.read() as s:
        text = configfiles.export(s, tenant_id=DEFAULT_TENANT_ID)
    for secret in secrets:
        assert secret not in text
    assert MASK in text
    exported = tmp_path / "export.yaml"
    exported.write_text(text)
    docs = configfiles.load([exported])
    with vigil.ctx.db.write() as s:
        out = configfiles.apply(s, docs, tenant_id=DEFAULT_TENANT_ID, now=vigil.clock.now())
    assert ("NotificationChannel", "hook", "unchanged") in out
    assert stored(vigil, made["id"]) == config
