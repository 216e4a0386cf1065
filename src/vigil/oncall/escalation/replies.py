"""Replies by SMS: Twilio's inbound webhook, ``POST /api/v1/twilio/sms``. A responder
answers a page with ``<incident number>a`` (acknowledge), ``r`` (resolve) or ``c`` (close).
The request must carry a valid ``X-Twilio-Signature`` for the personal SMS channel's auth
token, and come from a phone number that is one of the responder's contact methods."""

from __future__ import annotations

from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from vigil.auth.models import User
from vigil.context import Context, get_context
from vigil.errors import Conflict, Forbidden
from vigil.incidents.models import Incident
from vigil.incidents.service import act
from vigil.notify.channels.twilio_sms import parse_reply, valid_signature
from vigil.notify.models import NotificationChannel
from vigil.notify.service import channel_config
from vigil.oncall.models import ContactMethod

router = APIRouter(tags=["notifications"])
PATH = "/api/v1/twilio/sms"


def _twiml(text: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}' \
           "</Message></Response>"
    return Response(body, media_type="application/xml")


@router.post(PATH, include_in_schema=False)
async def sms_reply(request: Request, ctx: Context = Depends(get_context)) -> Response:
    params = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    signature = request.headers.get("X-Twilio-Signature", "")
    url = ctx.settings.base_url + PATH

    def run() -> str:
        now = ctx.clock.now()
        with ctx.db.write() as s:
            channels = list(s.scalars(select(NotificationChannel).where(
                NotificationChannel.kind == "sms", NotificationChannel.personal.is_(True))))
            channel = next((c for c in channels if valid_signature(
                str(channel_config(s, c).get("auth_token", "")), url, params, signature)),
                None)
            if channel is None:
                raise Forbidden("the request is not signed by Twilio for this Vigil",
                                field="X-Twilio-Signature")
            found = s.execute(select(User).join(ContactMethod, ContactMethod.user_id == User.id)
                              .where(User.tenant_id == channel.tenant_id,
                                     ContactMethod.type == "sms",
                                     ContactMethod.address == params.get("From", ""))).first()
            if found is None:
                return "This number is not a contact method of any Vigil user."
            user = found[0]
            reply = parse_reply(params.get("Body", ""))
            if reply is None:
                return "Reply with the incident number and a, r or c (e.g. 12a)."
            number, action = reply
            inc = s.scalars(select(Incident).where(Incident.tenant_id == channel.tenant_id,
                                                   Incident.number == number)).first()
            if inc is None:
                return f"There is no incident {number}."
            try:
                act(s, tenant_id=inc.tenant_id, incident_id=inc.id, action=action,
                    actor=f"user:{user.username}", now=now, note="by SMS")
            except Conflict as exc:
                return exc.message
            return f"INC-{inc.number} is {inc.status}."

    return _twiml(await run_in_threadpool(run))
