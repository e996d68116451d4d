"""The reasons an address is out of a send, and how pages, the CLI and the API name them."""

from app.i18n import gettext as _
from app.models.states import MemberStatus, SuppressionReason

# a signup waiting for its confirmation: in a chosen list, but only as unconfirmed
UNCONFIRMED = MemberStatus.UNCONFIRMED
# every chosen list the contact is on was left one by one (suppression rows naming those lists)
UNSUBSCRIBED_LIST = "unsubscribed_list"
# a campaign's exclusions (app.audience.segments.audience): on an excluded list, in an excluded segment
EXCLUDED_LIST = "excluded_list"
EXCLUDED_SEGMENT = "excluded_segment"
# in the order they are decided: a contact has the first that holds of it. An erased address is never
# a contact again (imports refuse it), so compile never meets one
EXCLUSION_REASONS = (
    UNCONFIRMED,
    SuppressionReason.UNSUBSCRIBED,
    UNSUBSCRIBED_LIST,
    SuppressionReason.BOUNCED,
    SuppressionReason.COMPLAINED,
    SuppressionReason.MANUAL,
)


def reason_label(reason: str) -> str:
    """An exclusion reason (or a suppression's, with its list scope) as a person reads it."""
    labels = {
        UNCONFIRMED: _("unconfirmed"),
        SuppressionReason.UNSUBSCRIBED: _("unsubscribed from all"),
        UNSUBSCRIBED_LIST: _("unsubscribed from this list"),
        SuppressionReason.BOUNCED: _("bounced"),
        SuppressionReason.COMPLAINED: _("complained"),
        SuppressionReason.MANUAL: _("manual"),
        SuppressionReason.ERASED: _("erased"),
        EXCLUDED_LIST: _("on an excluded list"),
        EXCLUDED_SEGMENT: _("in an excluded segment"),
        "not_in_segments": _("not in the chosen lists or segments"),
        "included": _("included"),
        "not_in_lists": _("not in the chosen lists"),
        "not_a_contact": _("not a contact"),
        "invalid": _("invalid address"),
    }
    return labels.get(reason, reason)
