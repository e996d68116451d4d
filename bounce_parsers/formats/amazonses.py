"""Amazon SES notifications delivered by e-mail (SNS JSON: Bounce, Complaint, Delivery)
and SES's own plain DSN wording."""

from __future__ import annotations

from ..entry import Entry
from ..jsonvalue import loads, raw_decode
from ..report import Report, clean_address

# typing costs ~3 ms to import; annotations only need it for the type checker
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAME = "amazonses"
# bounceSubType -> reason, when SES says more than "General"
SUBTYPES = {
    "noemail": "userunknown",
    "suppressed": "suppressed",
    "onaccountsuppressionlist": "suppressed",
    "mailboxfull": "mailboxfull",
    "messagetoolarge": "mesgtoobig",
    "contentrejected": "contenterror",
    "attachmentrejected": "securityerror",
}


def _payload(text: str) -> dict[str, Any] | None:
    # compact JSON starts '{"'; SNS's pretty-printed envelope starts '{' on a line of its own
    starts = {p for p in (text.find('{"'), text.find("{\n"), text.find("{\r")) if p >= 0}
    obj = None
    for start in sorted(starts):
        # a mail program may have wrapped long lines, also inside the JSON strings
        for candidate in (text[start:], text[start:].replace("\n ", "").replace("\n", "")):
            try:
                obj, _ = raw_decode(candidate)
                break
            except ValueError:
                continue
        if isinstance(obj, dict):
            break
    if isinstance(obj, dict) and isinstance(obj.get("Message"), str):  # raw SNS envelope
        try:
            obj = loads(obj["Message"])
        except ValueError:
            return None
    return obj if isinstance(obj, dict) else None


def detect(rep: Report) -> bool:
    # inside an SNS envelope the notification is an escaped string (\"notificationType\"), maybe wrapped
    head = rep.text[:4000].replace("\n", "")
    return "notificationType" in head or '"eventType' in head or 'eventType\\"' in head


def parse(rep: Report) -> list[Entry]:
    data = _payload(rep.text)
    if not data:
        return []
    kind = str(data.get("notificationType") or data.get("eventType") or "").lower()
    out: list[Entry] = []
    if kind == "bounce" and isinstance(data.get("bounce"), dict):
        b = data["bounce"]
        subtype = SUBTYPES.get(str(b.get("bounceSubType", "")).lower(), "")
        for r in b.get("bouncedRecipients") or []:
            if not isinstance(r, dict):
                continue
            out.append(
                Entry(
                    recipient=clean_address(str(r.get("emailAddress", ""))),
                    status=str(r.get("status") or ""),
                    diagnostic=str(r.get("diagnosticCode") or ""),
                    # "Transient": SES gave up on this message (a soft bounce, not a delay)
                    action="failed",
                    remote_mta=str(b.get("reportingMTA") or ""),
                    reason=subtype if subtype != "suppressed" else "",
                )
            )
    elif kind == "complaint" and isinstance(data.get("complaint"), dict):
        c = data["complaint"]
        for r in c.get("complainedRecipients") or []:
            if isinstance(r, dict):
                out.append(
                    Entry(
                        recipient=clean_address(str(r.get("emailAddress", ""))),
                        reason="feedback",
                        diagnostic=str(c.get("complaintFeedbackType") or "abuse"),
                        action="failed",
                    )
                )
    elif kind == "delivery" and isinstance(data.get("delivery"), dict):
        d = data["delivery"]
        for addr in d.get("recipients") or []:
            out.append(
                Entry(
                    recipient=clean_address(str(addr)),
                    action="delivered",
                    diagnostic=str(d.get("smtpResponse") or ""),
                    remote_mta=str(d.get("reportingMTA") or ""),
                )
            )
    return [e for e in out if e.recipient]
