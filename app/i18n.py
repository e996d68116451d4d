"""The one gettext for pages, subscriber pages and subscriber mail.

Marking text here (``_("...")`` in Python, ``{{ _("...") }}`` in templates) is what puts it in the message
catalogue; placeholders are named (``_("Hello %(name)s", name=x)``) so a translation may reorder them."""


def gettext(message: str, **variables: object) -> str:
    """The message in the current language (English until a catalogue is loaded), with its placeholders filled."""
    return message % variables if variables else message


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The singular or plural form of a message for the count n (``%(num)d`` in it is n)."""
    return gettext(singular if n == 1 else plural, num=n, **variables)


_ = gettext
