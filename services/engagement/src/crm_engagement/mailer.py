"""SMTP delivery (aiosmtplib): builds the MIME message of a stored mail and hands it to the
configured server. Says whether a failure is worth retrying."""

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal

import aiosmtplib

from crm_engagement.domain import MessageDoc
from crm_engagement.settings import EngagementSettings


@dataclass(frozen=True)
class Outcome:
    result: Literal["sent", "retry", "bounced", "failed"]
    reason: str | None = None


def build(doc: MessageDoc, mail_from: str) -> EmailMessage:
    # Lines up to SMTP's 998: a long List-Unsubscribe URL must stay one plain header.
    msg = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    msg["From"] = mail_from
    msg["To"] = doc["email"]
    msg["Subject"] = doc["subject"]
    msg["Date"] = formatdate(usegmt=True)
    # Derived from the message id: a receiving system can tell the same mail apart.
    msg["Message-ID"] = make_msgid(idstring=doc["_id"], domain="crm.local")
    msg["X-CRM-Message-Id"] = doc["_id"]
    if doc.get("reply_to"):
        msg["Reply-To"] = doc["reply_to"]
    if doc["unsubscribe_url"]:
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click".
        msg["List-Unsubscribe"] = f"<{doc['unsubscribe_url']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(doc["text"] or " ")
    msg.add_alternative(doc["html"] or "<p></p>", subtype="html")
    return msg


class Mailer:
    def __init__(self, settings: EngagementSettings) -> None:
        self.settings = settings

    async def send(self, doc: MessageDoc) -> Outcome:
        s = self.settings
        try:
            # Flattened here: aiosmtplib's own flattening would fold (and so encode) a long
            # List-Unsubscribe URL at 78 characters.
            await aiosmtplib.send(
                build(doc, s.mail_from).as_bytes(),
                sender=parseaddr(s.mail_from)[1],
                recipients=[doc["email"]],
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_security == "tls",
                start_tls=True if s.smtp_security == "starttls" else False,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            codes = [r.code for r in e.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in e.recipients)
            if all(c >= 500 for c in codes):
                return Outcome("bounced", reason)
            return Outcome("retry", reason)
        except aiosmtplib.SMTPResponseException as e:
            reason = f"{e.code} {e.message}"
            return Outcome("failed" if e.code >= 500 else "retry", reason)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
            return Outcome("retry", f"{type(e).__name__}: {e}")
        return Outcome("sent")
