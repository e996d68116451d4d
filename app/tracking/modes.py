"""The three tracking modes and which one a campaign has."""

from app.models import Campaign
from app.settings import Settings

NONE, ANONYMOUS, CONTACT = "none", "anonymous", "contact"
MODES = (NONE, ANONYMOUS, CONTACT)


def effective(campaign: Campaign, settings: Settings) -> str:
    """The campaign's own choice, else the installation's default (fixed on the campaign at launch)."""
    return campaign.tracking if campaign.tracking in MODES else settings.tracking
