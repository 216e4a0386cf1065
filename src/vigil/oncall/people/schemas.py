"""Bodies and read models of people, teams and services (API and YAML).

Formats are checked here, so a bad value is a 422 naming its field both in the API and in
``vigil apply``; checks that need the database (uniqueness, references) are in
``people_service``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from vigil.http.ids import Id

Role = Literal["admin", "responder", "viewer"]
ContactType = Literal["email", "sms", "voice", "slack", "teams", "webhook"]
Urgency = Literal["high", "low"]

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`|~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"\.)+[A-Za-z]{2,63}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SLACK = re.compile(r"^(?:[UW][A-Z0-9]{8,20}|@[A-Za-z0-9][A-Za-z0-9._-]{0,79})$")


def _bad(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid", message)


def check_username(value: str) -> str:
    if not _USERNAME.match(value):
        raise _bad("a username is 1 to 100 lowercase letters, digits, dots, dashes or "
                   "underscores, starting with a letter or digit")
    return value


def check_email(value: str) -> str:
    if len(value) > 320 or not _EMAIL.match(value):
        raise _bad(f"not a valid email address: {value!r}")
    return value


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(f"unknown time zone {value!r}; use an IANA name like Europe/Berlin"
                   ) from None
    return value


def check_url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in schemes or not parts.hostname or any(
            c.isspace() for c in value):
        raise _bad(f"expected an {' or '.join(schemes)} URL, got {value!r}")
    return value


def check_address(kind: str, value: str) -> str:
    """The address of a contact method of type ``kind``."""
    if kind == "email":
        return check_email(value)
    if kind in ("sms", "voice"):
        if not _E164.match(value):
            raise _bad(f"{kind} needs a phone number in E.164 form like +4915112345678, "
                       f"got {value!r}")
        return value
    if kind == "slack":
        if not _SLACK.match(value):
            raise _bad(f"slack needs a member id like U012ABCDEF or @name, got {value!r}")
        return value
    if kind == "teams":
        if "@" in value and "/" not in value:
            return check_email(value)
        return check_url(value, ("https",))
    return check_url(value)


Username = Annotated[str, AfterValidator(check_username)]
Email = Annotated[str, AfterValidator(check_email)]
TimeZone = Annotated[str, AfterValidator(check_time_zone)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]
PolicyName = Annotated[str, Field(min_length=1, max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    username: Username
    name: Name
    email: Email
    time_zone: TimeZone = "UTC"
    role: Role = "responder"


class UserUpdate(_Body):
    """A partial change: only the fields given are changed."""

    username: Username | None = None
    name: Name | None = None
    email: Email | None = None
    time_zone: TimeZone | None = None
    role: Role | None = None


class ContactMethodCreate(_Body):
    type: ContactType
    address: str = Field(min_length=1, max_length=1000)
    label: str = Field(default="", max_length=100)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        return value if kind is None else check_address(kind, value)


class NotificationRuleCreate(_Body):
    contact_method_id: Id
    urgency: Urgency = "high"
    delay_minutes: int = Field(default=0, ge=0, le=1440)


class TeamCreate(_Body):
    name: Name
    description: Description = ""
    members: list[Username] = Field(default_factory=list, max_length=1000)
    escalation_policy: PolicyName | None = None


class TeamUpdate(_Body):
    name: Name | None = None
    description: Description | None = None
    members: list[Username] | None = Field(default=None, max_length=1000)
    escalation_policy: PolicyName | None = None


class RunbookLink(_Body):
    title: str = Field(min_length=1, max_length=200)
    url: Annotated[str, Field(max_length=2000), AfterValidator(check_url)]


class ServiceCreate(_Body):
    name: Name
    description: Description = ""
    team: Name | None = None
    escalation_policy: PolicyName | None = None
    runbook_links: list[RunbookLink] = Field(default_factory=list, max_length=50)


class ServiceUpdate(_Body):
    name: Name | None = None
    description: Description | None = None
    team: Name | None = None
    escalation_policy: PolicyName | None = None
    runbook_links: list[RunbookLink] | None = Field(default=None, max_length=50)


class ContactMethodRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: str
    address: str
    label: str
    enabled: bool
    created_at: datetime


class NotificationRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    contact_method_id: int
    urgency: str
    delay_minutes: int
    created_at: datetime


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    name: str
    email: str
    time_zone: str
    role: str
    warnings: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class UserDetail(UserRead):
    ical_url: str
    contact_methods: list[ContactMethodRead]
    notification_rules: list[NotificationRuleRead]


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    members: list[str]
    escalation_policy: str | None
    created_at: datetime
    updated_at: datetime


class ServiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    team: str | None
    escalation_policy: str | None
    runbook_links: list[dict[str, str]]
    created_at: datetime
    updated_at: datetime


# YAML documents (``kind: User``): a user with the ways to reach them.

class RuleDoc(_Body):
    contact: str = Field(min_length=1, max_length=1000,
                         description="the label, type or address of one of contact_methods")
    urgency: Urgency = "high"
    delay_minutes: int = Field(default=0, ge=0, le=1440)


class UserDoc(UserCreate):
    contact_methods: list[ContactMethodCreate] = Field(default_factory=list, max_length=50)
    notification_rules: list[RuleDoc] = Field(default_factory=list, max_length=100)
