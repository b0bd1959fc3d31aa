"""Configuration from the environment (or ``.env``), under the names of CONTRACT.md."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import AwareDatetime, Field, HttpUrl, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.urls import parse_database_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field("sqlite+aiosqlite:///./dealbot.db", alias="DEALBOT_DATABASE_URL")
    api_key: SecretStr | None = Field(None, alias="DEALBOT_API_KEY", min_length=16)
    public_url: HttpUrl | None = Field(None, alias="DEALBOT_PUBLIC_URL")
    host: str = Field("127.0.0.1", alias="DEALBOT_HOST")
    port: int = Field(8080, alias="DEALBOT_PORT", ge=0, le=65535)

    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID", pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: SecretStr | None = Field(None, alias="TWILIO_AUTH_TOKEN")
    twilio_from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    # A pool of senders, "+14165550100,+16475550101": set, it replaces TWILIO_FROM_NUMBER.
    twilio_from_numbers: str | None = Field(None, alias="TWILIO_FROM_NUMBERS")
    twilio_messaging_service_sid: str | None = Field(
        None, alias="TWILIO_MESSAGING_SERVICE_SID", pattern=r"^MG[0-9a-fA-F]{32}$"
    )
    twilio_api_base_url: HttpUrl = Field(HttpUrl("https://api.twilio.com"), alias="TWILIO_API_BASE_URL")

    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT", ge=1, le=65535)
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    # None: STARTTLS when the server offers it (aiosmtplib's default); true: required; false: never.
    smtp_starttls: bool | None = Field(None, alias="SMTP_STARTTLS")
    smtp_tls: bool = Field(False, alias="SMTP_TLS")
    email_from: str = Field("dealbot@localhost", alias="DEALBOT_EMAIL_FROM")
    inbound_email_secret: SecretStr | None = Field(None, alias="DEALBOT_INBOUND_EMAIL_SECRET")
    # Where hot-lead alerts go (bot/alerts.py); unset, none are sent.
    operator_email: str | None = Field(None, alias="DEALBOT_OPERATOR_EMAIL", max_length=254)
    operator_phone: str | None = Field(None, alias="DEALBOT_OPERATOR_PHONE", max_length=40)

    company_name: str = Field("Maple Home Buyers", alias="DEALBOT_COMPANY_NAME", min_length=1, max_length=40)
    agent_name: str = Field("Sam", alias="DEALBOT_AGENT_NAME", min_length=1, max_length=40)
    # The mailing address every email carries (CASL identification, CAN-SPAM's physical address).
    # Unset, emails go without one and `serve` warns at start: set it before emailing anyone.
    company_address: str = Field("", alias="DEALBOT_COMPANY_ADDRESS", max_length=200)
    # FOR TESTS AND DEMOS ONLY: the server's clock starts at this instant (ISO 8601 with an
    # offset) and runs at real speed from there, so a test of a real process chooses the day and
    # hour it runs in. Never set it in production: every contact window is judged by this clock.
    clock_start: AwareDatetime | None = Field(None, alias="DEALBOT_CLOCK_START")
    sms_per_second: float = Field(1.0, alias="DEALBOT_SMS_PER_SECOND", gt=0, le=100)
    # The account's cap (10DLC / toll-free tier); unset, the sum of the pool numbers' rates.
    sms_account_per_second: float | None = Field(None, alias="DEALBOT_SMS_ACCOUNT_PER_SECOND", gt=0, le=10000)
    buyer_alert_limit: int = Field(25, alias="DEALBOT_BUYER_ALERT_LIMIT", ge=1, le=1000)
    # A row left 'sending' this long belongs to a dispatcher that died mid-send (sends time out
    # in 10-15 s); it becomes 'unknown' and is reconciled with the provider, never resent blindly.
    orphan_after_s: float = Field(60.0, alias="DEALBOT_ORPHAN_AFTER_S", ge=1, le=3600)
    # How long to let the provider's message list catch up before reconciling an 'unknown' send.
    reconcile_after_s: float = Field(30.0, alias="DEALBOT_RECONCILE_AFTER_S", ge=0, le=3600)
    max_body_bytes: int = Field(1024 * 1024, alias="DEALBOT_MAX_BODY_BYTES", ge=1024)
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", alias="DEALBOT_LOG_LEVEL")
    log_format: Literal["json", "console"] = Field("json", alias="DEALBOT_LOG_FORMAT")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        parse_database_url(value)
        return value

    @field_validator("twilio_from_number")
    @classmethod
    def _from_number(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("+"):
            raise ValueError("must be an E.164 number such as +14165550100")
        return value

    @field_validator("twilio_from_numbers")
    @classmethod
    def _from_numbers(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        numbers = [n.strip() for n in value.split(",") if n.strip()]
        bad = [n for n in numbers if not re.fullmatch(r"\+[1-9]\d{7,14}", n)]
        if bad:
            raise ValueError(f"each number must be E.164 such as +14165550100 (not {bad[0]!r})")
        if len(set(numbers)) != len(numbers):
            raise ValueError("a number is listed twice")
        return ",".join(numbers)

    @property
    def sending_pool(self) -> tuple[str, ...]:
        """The numbers SMS goes from: TWILIO_FROM_NUMBERS, else TWILIO_FROM_NUMBER, else none
        (a messaging service, or dry-run)."""
        if self.twilio_from_numbers:
            return tuple(self.twilio_from_numbers.split(","))
        return (self.twilio_from_number,) if self.twilio_from_number else ()

    @property
    def account_per_second(self) -> float:
        """The whole account's rate: DEALBOT_SMS_ACCOUNT_PER_SECOND, else every sender at full rate."""
        if self.sms_account_per_second is not None:
            return self.sms_account_per_second
        return self.sms_per_second * max(1, len(self.sending_pool))

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    def public_base_url(self, host: str, port: int) -> str:
        """The URL providers call, without a trailing slash."""
        return str(self.public_url).rstrip("/") if self.public_url else f"http://{host}:{port}"


class SettingsError(Exception):
    """One line naming the variable that is wrong, for start-up."""


def load_settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "configuration"
        raise SettingsError(f"{name}: {first['msg']}") from None
    if settings.twilio_enabled and not (settings.sending_pool or settings.twilio_messaging_service_sid):
        raise SettingsError(
            "TWILIO_FROM_NUMBERS, TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID: one is needed to send SMS"
        )
    return settings
