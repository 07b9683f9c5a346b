"""The mail the emulated world sends back to Threadline: a person's reply, a bounce (an RFC
3464 delivery status notification) and a complaint (an RFC 5965 feedback report), each as
the raw bytes a relay would post to /webhooks/email."""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime

CRLF = "\r\n"
REPORTING_MTA = "mx.emulator.test"


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def header_block(raw: bytes) -> str:
    """The original's header section, as returned in a report."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("ascii", "replace").replace("\n", CRLF)


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if not isinstance(part, EmailMessage):
        return ""
    content = part.get_content()
    return content.replace("\r\n", "\n") if isinstance(content, str) else ""


def first_mail(
    *,
    person: str,
    name: str | None,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    at: datetime,
) -> bytes:
    """A person writing to the business out of the blue, as a mail client sends it."""
    out = EmailMessage(policy=policy.SMTP)
    out["From"] = f"{name} <{person}>" if name else person
    out["To"] = to
    out["Subject"] = subject
    out["Date"] = format_datetime(at)
    out["Message-ID"] = f"<{message_id}>"
    out.set_content(f"{text}\n")
    return out.as_bytes()


def reply(
    original: bytes,
    *,
    person: str,
    name: str | None,
    text: str,
    message_id: str,
    at: datetime,
) -> bytes:
    """A person's answer as a mail client writes it: "Re:" subject, In-Reply-To and
    References for threading, the new words on top and the original quoted below."""
    msg = parse(original)
    subject = str(msg.get("Subject", ""))
    answered = str(msg.get("Message-ID", "")).strip()
    references = " ".join([*str(msg.get("References", "")).split(), answered]).strip()
    sender = str(msg.get("From", ""))
    out = EmailMessage(policy=policy.SMTP)
    out["From"] = f"{name} <{person}>" if name else person
    out["To"] = sender
    out["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    out["Date"] = format_datetime(at)
    out["Message-ID"] = f"<{message_id}>"
    if answered:
        out["In-Reply-To"] = answered
        out["References"] = references
    quoted = "\n".join(f"> {line}" if line else ">" for line in body_text(msg).splitlines())
    date = str(msg.get("Date", format_datetime(at)))
    out.set_content(f"{text}\n\nOn {date}, {sender} wrote:\n{quoted}\n")
    return out.as_bytes()


def _report(
    *,
    sender: str,
    to: str,
    subject: str,
    report_type: str,
    message_id: str,
    at: datetime,
    human: str,
    fields: str,
    fields_type: str,
    returned: str,
    returned_type: str,
    auto: bool,
) -> bytes:
    boundary = f"report.{message_id.partition('@')[0]}"
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(at)}",
        f"Message-ID: <{message_id}>",
        *(["Auto-Submitted: auto-replied"] if auto else []),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type={report_type}; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="us-ascii"',
        "",
        human,
        f"--{boundary}",
        f"Content-Type: {fields_type}",
        "",
        fields,
        f"--{boundary}",
        f"Content-Type: {returned_type}",
        "",
        returned,
        f"--{boundary}--",
        "",
    ]
    return CRLF.join(lines).encode()


def bounce(
    original: bytes,
    *,
    mail_from: str,
    recipient: str,
    message_id: str,
    at: datetime,
    status: str = "5.1.1",
    diagnostic: str | None = None,
) -> bytes:
    """The DSN a receiving system sends the envelope sender when the mailbox is unknown."""
    said = diagnostic or f"550 {status} <{recipient}>: Recipient address rejected: User unknown"
    fields = CRLF.join(
        [
            f"Reporting-MTA: dns; {REPORTING_MTA}",
            f"Arrival-Date: {format_datetime(at)}",
            "",
            f"Final-Recipient: rfc822; {recipient}",
            f"Original-Recipient: rfc822;{recipient}",
            "Action: failed",
            f"Status: {status}",
            f"Remote-MTA: dns; {recipient.rpartition('@')[2]}",
            f"Diagnostic-Code: smtp; {said}",
            "",
        ]
    )
    return _report(
        sender=f"Mail Delivery System <MAILER-DAEMON@{REPORTING_MTA}>",
        to=mail_from,
        subject="Undelivered Mail Returned to Sender",
        report_type="delivery-status",
        message_id=message_id,
        at=at,
        human=(
            f"This is the mail system at host {REPORTING_MTA}.{CRLF}{CRLF}Your message could "
            f"not be delivered to <{recipient}>: {said}"
        ),
        fields=fields,
        fields_type="message/delivery-status",
        returned=header_block(original),
        returned_type="text/rfc822-headers",
        auto=True,
    )


def complaint(
    original: bytes,
    *,
    mail_from: str,
    recipient: str,
    message_id: str,
    at: datetime,
    to: str,
) -> bytes:
    """The ARF report a mailbox provider's feedback loop sends when the person marks the
    message as spam."""
    fields = CRLF.join(
        [
            "Feedback-Type: abuse",
            "User-Agent: ThreadlineEmulator/1.0",
            "Version: 1",
            f"Original-Mail-From: <{mail_from}>",
            f"Original-Rcpt-To: <{recipient}>",
            f"Arrival-Date: {format_datetime(at)}",
            f"Reported-Domain: {mail_from.rpartition('@')[2]}",
            "",
        ]
    )
    return _report(
        sender=f"Feedback Loop <fbl@{REPORTING_MTA}>",
        to=to,
        subject="Abuse report",
        report_type="feedback-report",
        message_id=message_id,
        at=at,
        human="This is an email abuse report for a message the recipient marked as spam.",
        fields=fields,
        fields_type="message/feedback-report",
        returned=original.decode("ascii", "replace").replace("\r\n", "\n").replace("\n", CRLF),
        returned_type="message/rfc822",
        auto=False,
    )
