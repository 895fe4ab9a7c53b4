"""Settings from the environment and `.env` (names as in DOMAIN.md and README's table).

Secrets are ``SecretStr`` so they never show in logs, reprs or error messages.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import UsageError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


def _env_file() -> str | None:
    # COVBOT_ENV_FILE points at another env file (or /dev/null to ignore `.env`).
    return os.environ.get("COVBOT_ENV_FILE", ".env")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # storage and rules
    database_url: str = Field("sqlite:///covbot.db", alias="COVBOT_DATABASE_URL")
    rules: str = Field("rules/", alias="COVBOT_RULES")

    # notifications
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, alias="COVBOT_SLACK_API_URL")
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int | None = Field(None, alias="SMTP_PORT")
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    smtp_security: str = Field("starttls", alias="SMTP_SECURITY")
    smtp_timeout_seconds: float = Field(30.0, alias="COVBOT_SMTP_TIMEOUT_SECONDS")
    email_from: str = Field("covbot@localhost", alias="COVBOT_EMAIL_FROM")
    default_slack_channel: str | None = Field(None, alias="COVBOT_DEFAULT_SLACK_CHANNEL")
    default_email: str | None = Field(None, alias="COVBOT_DEFAULT_EMAIL")
    outbox_dir: str = Field("out/", alias="COVBOT_OUTBOX_DIR")
    templates_dir: str | None = Field(None, alias="COVBOT_TEMPLATES_DIR")
    # delivery (the outbox dispatcher; see docs/notifications.md)
    dispatch_max_attempts: int = Field(8, ge=1, alias="COVBOT_DISPATCH_MAX_ATTEMPTS")
    dispatch_budget_seconds: float = Field(30, ge=0, alias="COVBOT_DISPATCH_BUDGET_SECONDS")
    dispatch_backoff_seconds: float = Field(2.0, ge=0, alias="COVBOT_DISPATCH_BACKOFF_SECONDS")
    dispatch_backoff_max_seconds: float = Field(900, ge=0, alias="COVBOT_DISPATCH_BACKOFF_MAX_SECONDS")
    dispatch_lease_seconds: float = Field(120, gt=0, alias="COVBOT_DISPATCH_LEASE_SECONDS")
    group_threshold: int = Field(10, ge=1, alias="COVBOT_GROUP_THRESHOLD")
    slack_min_interval_seconds: float = Field(1.0, ge=0, alias="COVBOT_SLACK_MIN_INTERVAL_SECONDS")

    # acting from Slack (bot/slackapp; DOMAIN.md "Acting from Slack")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_listen: str = Field("127.0.0.1:3000", alias="COVBOT_SLACK_LISTEN")
    slack_approvers: str = Field("", alias="COVBOT_SLACK_APPROVERS")
    slack_readers: str = Field("*", alias="COVBOT_SLACK_READERS")

    # storage: evaluation results older than this many days are pruned daily (quarter ends kept; 0: keep all)
    results_keep_days: int = Field(400, ge=0, alias="COVBOT_RESULTS_KEEP_DAYS")

    # service
    eval_cron: str = Field("0 6 * * *", alias="COVBOT_EVAL_CRON")
    digest_cron: str = Field("0 7 * * mon", alias="COVBOT_DIGEST_CRON")
    timezone: str = Field("UTC", alias="COVBOT_TIMEZONE")
    dispatch_seconds: float = Field(5, alias="COVBOT_DISPATCH_SECONDS")
    inbox: str | None = Field(None, alias="COVBOT_INBOX")
    inbox_poll_seconds: float = Field(5, alias="COVBOT_INBOX_POLL_SECONDS")
    inbox_settle_seconds: float = Field(10, ge=0, alias="COVBOT_INBOX_SETTLE_SECONDS")
    slot_retry_seconds: float = Field(30, gt=0, alias="COVBOT_SLOT_RETRY_SECONDS")
    log_format: str = Field("text", alias="COVBOT_LOG_FORMAT")
    log_level: str = Field("INFO", alias="COVBOT_LOG_LEVEL")

    @field_validator("slack_bot_token", "smtp_password", "slack_signing_secret", "slack_app_token", "smtp_host", "inbox",
                     "default_slack_channel", "default_email", "smtp_user", mode="before")
    @classmethod
    def _empty_is_unset(cls, v):
        return None if v == "" else v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token (xapp-...) with the connections:write scope")
        return v

    @field_validator("slack_listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
            raise ValueError("COVBOT_SLACK_LISTEN must be HOST:PORT, e.g. 127.0.0.1:3000")
        return v.strip()

    @field_validator("smtp_port", mode="before")
    @classmethod
    def _empty_port(cls, v):
        return None if v == "" else v

    @field_validator("smtp_security")
    @classmethod
    def _security(cls, v: str) -> str:
        v = v.lower()
        if v not in ("starttls", "ssl", "none"):
            raise ValueError("SMTP_SECURITY must be starttls, ssl or none")
        return v

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        v = v.lower()
        if v not in ("text", "json"):
            raise ValueError("COVBOT_LOG_FORMAT must be text or json")
        return v

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        v = v.upper()
        if v not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("COVBOT_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return v

    @property
    def slack_base_url(self) -> str:
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"

    @property
    def outbox_path(self) -> Path:
        return Path(self.outbox_dir)


def load_settings(**overrides) -> Settings:
    """Fresh settings from the environment and the env file (no caching: tests change env).

    A bad value is a ``UsageError`` naming the variable and what it must be (never its value when
    the variable is a secret)."""
    env_file = _env_file()
    try:
        return Settings(_env_file=env_file if env_file and Path(env_file).is_file() else None, **overrides)
    except ValidationError as exc:
        raise UsageError(_describe(exc, env_file)) from None


_SECRETS = {"SLACK_BOT_TOKEN", "SMTP_PASSWORD", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"}


def _describe(exc: ValidationError, env_file: str | None) -> str:
    fields = Settings.model_fields
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error.get("loc") else "?"
        variable = fields[name].alias if name in fields and fields[name].alias else name
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if variable in _SECRETS:
            lines.append(f"{variable} is not valid: {message}")
        else:
            lines.append(f"{variable}={error.get('input')!r} is not valid: {message}")
    where = f" (from the environment or {env_file})" if env_file else ""
    return "A setting is not valid" + where + ": " + "; ".join(lines) + "."
