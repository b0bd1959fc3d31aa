"""Who is writing and how to stop: what the first text to a person and every email must say.

CASL (every commercial message identifies its sender, with a mailing address, and offers an
unsubscribe), CAN-SPAM (a physical address and a working opt-out in every email) and the
carriers (the first text names the business and says how to opt out). The shipped templates
say it themselves (bot/templates.py checks them); these sign what a person wrote, or a reply
that happens to be the first text a person gets. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.templates import OPT_OUT_NOTICE


@dataclass(frozen=True, slots=True)
class Sender:
    agent: str
    company: str
    address: str  # the mailing address; "" when the operator has not set one


def identifies(body: str, sender: Sender) -> bool:
    """Whether a text already names the company and says how to stop."""
    folded = body.casefold()
    return sender.company.casefold() in folded and "stop" in folded


def sign_sms(body: str, sender: Sender) -> str:
    """A text that names the sender and company and says how to stop (unchanged if it does)."""
    if identifies(body, sender):
        return body
    return f"{body.rstrip()} - {sender.agent}, {sender.company}. {OPT_OUT_NOTICE}"


def sign_email(body: str, sender: Sender, unsubscribe_url: str) -> str:
    """An operator's email body with the sender, company, mailing address and unsubscribe link."""
    lines = [body.rstrip(), "", "", sender.agent, sender.company]
    if sender.address:
        lines.append(sender.address)
    lines += ["", f"You are getting this email from {sender.company}. To stop these emails, open {unsubscribe_url}"]
    return "\n".join(lines)
