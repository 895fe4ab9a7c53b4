"""EmailTransport against an in-process aiosmtpd server on 127.0.0.1."""

import traceback
from datetime import datetime, timezone

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.errors import PermanentDeliveryError, RetryableDeliveryError
from bot.notify.email import EmailTransport
from bot.notify.messages import OutgoingEmail, email_message_id
from tests.fakes import FakeSmtpServer, failures_for, free_port, running_smtp, self_signed_tls

# AUTH over plain text is what the "none" security mode tests, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

USER, PASSWORD = "covbot", "s3cret-smtp-password"
NOW = datetime(2026, 3, 2, 7, 0, tzinfo=timezone.utc)
MESSAGE = OutgoingEmail(
    to=("analyst@lender.example",),
    subject="Facility A: DSCR breached\n(1.02x < 1.05x)",
    text="DSCR 1.02x is below the minimum 1.05x.",
    html="<p>DSCR <b>1.02x</b> is below the minimum 1.05x.</p>",
    message_id="<covbot.n-42@lender.example>",
)


@pytest.fixture
def smtp_server():
    with running_smtp(user=USER, password=PASSWORD) as fake:
        yield fake


def transport_for(fake: FakeSmtpServer, **kwargs) -> EmailTransport:
    kwargs.setdefault("user", USER)
    kwargs.setdefault("password", SecretStr(PASSWORD))
    kwargs.setdefault("security", "none")
    return EmailTransport(fake.host, fake.port, timeout=5, sender="covbot@lender.example",
                          clock=lambda: NOW, **kwargs)


def everything_said(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


# -- the shared "failure → retryable or not" table ------------------------------------------------

@pytest.mark.parametrize("case", failures_for("email"), ids=lambda c: c.name)
def test_failure_is_classified(smtp_server, case):
    password = PASSWORD
    if case.action == "fault":
        smtp_server.refuse_next(**case.fault)
    elif case.action == "server_down":
        smtp_server.stop()
    elif case.action == "bad_credentials":
        password = "wrong-password-do-not-leak"
    transport = transport_for(smtp_server, password=SecretStr(password))

    with pytest.raises((RetryableDeliveryError, PermanentDeliveryError)) as caught:
        transport.send(MESSAGE)

    error = caught.value
    assert error.retryable is case.retryable
    assert isinstance(error, RetryableDeliveryError if case.retryable else PermanentDeliveryError)
    assert error.retry_after == case.retry_after
    assert password not in everything_said(error)
    assert smtp_server.received == []


# -- what arrives ---------------------------------------------------------------------------------

def test_multipart_text_and_html_arrive_with_the_given_message_id(smtp_server):
    transport_for(smtp_server).send(MESSAGE)

    (mail,) = smtp_server.received
    assert mail.mail_from == "covbot@lender.example"
    assert mail.rcpt_tos == ("analyst@lender.example",)
    parsed = mail.parsed()
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == "<covbot.n-42@lender.example>"
    assert parsed["Subject"] == "Facility A: DSCR breached (1.02x < 1.05x)"
    assert parsed["From"] == "covbot@lender.example"
    assert parsed["To"] == "analyst@lender.example"
    assert parsed["Date"] == "Mon, 02 Mar 2026 07:00:00 +0000"
    plain, html = parsed.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == MESSAGE.text
    assert html.get_content_type() == "text/html"
    assert html.get_content().strip() == MESSAGE.html


def test_login_uses_the_configured_user(smtp_server):
    transport_for(smtp_server).send(MESSAGE)
    assert smtp_server.auth_attempts == [(USER, True)]
    assert smtp_server.received[0].login == USER


def test_no_login_without_a_user_and_the_server_refuses_permanently(smtp_server):
    with pytest.raises(PermanentDeliveryError, match="530"):
        transport_for(smtp_server, user=None, password=None).send(MESSAGE)
    assert smtp_server.auth_attempts == []


def test_open_relay_accepts_without_login():
    with running_smtp() as open_server:
        transport_for(open_server, user=None, password=None).send(MESSAGE)
        assert open_server.received[0].login is None


def test_several_recipients_and_a_resend_keep_the_same_message_id(smtp_server):
    message = OutgoingEmail(to=("a@lender.example", "b@lender.example"), subject="s", text="t",
                            html="<p>t</p>", message_id=email_message_id("n-7", "covbot@lender.example"))
    transport = transport_for(smtp_server)
    transport.send(message)
    transport.send(message)

    first, second = smtp_server.received
    assert first.rcpt_tos == ("a@lender.example", "b@lender.example")
    assert first.parsed()["Message-ID"] == second.parsed()["Message-ID"] == "<covbot.n-7@lender.example>"


def test_partial_refusal_is_final_and_names_who_got_it(smtp_server):
    message = OutgoingEmail(to=("gone@lender.example", "b@lender.example"), subject="s", text="t",
                            html="<p>t</p>", message_id="<x@lender.example>")
    smtp_server.refuse_next("550 5.1.1 No such recipient", stage="rcpt")
    with pytest.raises(PermanentDeliveryError, match="reached b@lender.example") as caught:
        transport_for(smtp_server).send(message)
    assert "gone@lender.example: 550" in str(caught.value)
    assert smtp_server.received[0].rcpt_tos == ("b@lender.example",)


def test_server_down_then_up_delivers_exactly_once(smtp_server):
    transport = transport_for(smtp_server)
    smtp_server.stop()
    with pytest.raises(RetryableDeliveryError, match="could not be reached"):
        transport.send(MESSAGE)

    smtp_server.start()                      # same port as before
    transport.send(MESSAGE)

    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].parsed()["Message-ID"] == MESSAGE.message_id


def test_temporary_refusal_then_success(smtp_server):
    smtp_server.refuse_next("451 4.3.0 Try again later")
    transport = transport_for(smtp_server)
    with pytest.raises(RetryableDeliveryError, match="451"):
        transport.send(MESSAGE)
    transport.send(MESSAGE)
    assert len(smtp_server.received) == 1


def test_unusable_message_id_and_missing_recipient_are_permanent(smtp_server):
    transport = transport_for(smtp_server)
    with pytest.raises(PermanentDeliveryError, match="Message-ID"):
        transport.send(OutgoingEmail(("a@x.example",), "s", "t", "<p>t</p>", "no-at-sign"))
    with pytest.raises(PermanentDeliveryError, match="no recipient"):
        transport.send(OutgoingEmail((), "s", "t", "<p>t</p>", "<a@x.example>"))
    assert smtp_server.received == []


def test_password_is_not_in_the_repr():
    transport = EmailTransport("mail.example", user=USER, password=SecretStr(PASSWORD))
    assert PASSWORD not in repr(transport)


# -- settings and default ports -------------------------------------------------------------------

@pytest.mark.parametrize("security, port", [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_default_ports(security, port):
    assert EmailTransport("mail.example", security=security).port == port


def test_built_from_settings():
    settings = Settings(SMTP_HOST="mail.example", SMTP_PORT="2525", SMTP_USER="u",
                        SMTP_PASSWORD="p", SMTP_SECURITY="ssl", COVBOT_SMTP_TIMEOUT_SECONDS=3,
                        COVBOT_EMAIL_FROM="alerts@lender.example")
    transport = EmailTransport.from_settings(settings)
    assert (transport.host, transport.port, transport.user, transport.security,
            transport.timeout, transport.sender) == ("mail.example", 2525, "u", "ssl", 3,
                                                     "alerts@lender.example")


def test_email_message_id_is_stable_and_safe():
    assert email_message_id("n 1/2", "Covbot <covbot@lender.example>") == "<covbot.n-1-2@lender.example>"


# -- TLS (self-signed certificate from the openssl CLI) -------------------------------------------

@pytest.fixture
def tls(tmp_path):
    files = self_signed_tls(tmp_path)
    if files is None:
        pytest.skip("the openssl command is not installed, so no test certificate can be made")
    return files


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_modes_deliver_and_log_in(tls, security):
    with running_smtp(user=USER, password=PASSWORD, security=security,
                      server_context=tls.server_context()) as server:
        transport_for(server, security=security, ssl_context=tls.client_context()).send(MESSAGE)
        assert server.received[0].login == USER


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_untrusted_certificate_is_permanent(tls, security):
    with running_smtp(user=USER, password=PASSWORD, security=security,
                      server_context=tls.server_context()) as server:
        with pytest.raises(PermanentDeliveryError, match="not trusted"):
            transport_for(server, security=security).send(MESSAGE)   # system CAs only
        assert server.received == []


def test_starttls_required_but_not_offered_is_permanent(smtp_server):
    with pytest.raises(PermanentDeliveryError, match="does not offer STARTTLS"):
        transport_for(smtp_server, security="starttls").send(MESSAGE)


def test_connection_refused_on_an_unused_port_is_retryable():
    transport = EmailTransport("127.0.0.1", free_port(), security="none", timeout=2)
    with pytest.raises(RetryableDeliveryError, match="connection refused"):
        transport.send(MESSAGE)


# -- a server that echoes the AUTH command in its refusal (issue 13, item 9) -------------------------

def _secret_forms(user: str, password: str) -> list[str]:
    import base64

    return [password, base64.b64encode(password.encode()).decode(),
            base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
            base64.b64encode(f"{user}\0{user}\0{password}".encode()).decode()]


@pytest.mark.parametrize("password", ["wrong-password-do-not-leak", "short"])
def test_an_echoed_auth_command_is_redacted(password):
    with running_smtp(user=USER, password=PASSWORD, echo_auth=True) as fake:
        transport = transport_for(fake, password=SecretStr(password))
        with pytest.raises(PermanentDeliveryError) as caught:
            transport.send(MESSAGE)
    said = everything_said(caught.value)
    assert "AUTH" in said and "[redacted]" in said  # the server's words stay, the credentials go
    for secret in _secret_forms(USER, password):
        assert secret not in said


def test_an_echoed_auth_command_reaches_neither_the_database_nor_the_output(tmp_path, monkeypatch):
    """Through `covbot outbox dispatch`: what it prints and every row it stores."""
    from typer.testing import CliRunner
    from sqlalchemy import create_engine

    from bot.cli import app

    password = "wrong-password-do-not-leak"
    db = tmp_path / "covbot.db"
    rules = tmp_path / "rules.yaml"
    rules.write_text("covenants:\n  - id: cap\n    metric: outstanding\n    must_be: \"<= 1\"\n"
                     "    notify: {email: [risk@lender.example]}\n")
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "facilities.csv").write_text(
        "facility_id,borrower,facility_type,currency,commitment,outstanding,origination_date,maturity_date,"
        "owner_email,slack_channel\nF-1,Borrower,gpu_abl,USD,10,5,2024-01-01,2030-01-01,,\n")
    with running_smtp(user=USER, password=PASSWORD, echo_auth=True) as fake:
        for key, value in {"COVBOT_DATABASE_URL": f"sqlite:///{db}", "COVBOT_ENV_FILE": "/dev/null",
                           "SMTP_HOST": fake.host, "SMTP_PORT": str(fake.port), "SMTP_USER": USER,
                           "SMTP_PASSWORD": password, "SMTP_SECURITY": "none",
                           "COVBOT_OUTBOX_DIR": str(tmp_path / "out")}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
        runner = CliRunner()
        assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
        result = runner.invoke(app, ["check", "--rules", str(rules), "--as-of", "2026-01-02"])
        assert result.exit_code == 0, result.output
    assert "refused the login" in result.output
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = " ".join(str(row) for table in ("outbox", "alert_audit", "delivery_log")
                          for row in conn.exec_driver_sql(f"SELECT * FROM {table}").fetchall())
    engine.dispose()
    assert "AUTH" in stored
    for secret in _secret_forms(USER, password):
        assert secret not in result.output and secret not in stored
