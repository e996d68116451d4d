"""The signed part of a pixel or click URL: `<campaign>.<delivery or _>.<link>-<mac>` in base 36, the mac
(60 bits of HMAC-SHA256 under the installation's secret key) over all three, so a token cannot be made
up or pointed at another link. Link 0 is the open pixel; an anonymous campaign's tokens name no delivery."""

import hmac
import re
from typing import NamedTuple

from app.tokens import base36, sign

_TOKEN = re.compile(r"^([0-9a-z]{1,13})\.([0-9a-z]{1,13}|_)\.([0-9a-z]{1,4})-([a-z2-7]{12})$")


class Hit(NamedTuple):
    campaign_id: int
    delivery_id: int | None
    link: int  # 0: the open pixel


def _label(campaign_id: int, link: int) -> str:
    return f"track.{campaign_id}.{link}"


def make(secret: bytes, campaign_id: int, delivery_id: int | None, link: int) -> str:
    mac = sign(secret, _label(campaign_id, link), -1 if delivery_id is None else delivery_id)
    delivery = "_" if delivery_id is None else base36(delivery_id)
    return f"{base36(campaign_id)}.{delivery}.{base36(link)}-{mac}"


def parse(secret: bytes, token: str) -> Hit | None:
    """What a token names, or None when it is malformed or forged."""
    m = _TOKEN.match(token)
    if m is None:
        return None
    campaign_id, link = int(m.group(1), 36), int(m.group(3), 36)
    delivery_id = None if m.group(2) == "_" else int(m.group(2), 36)
    mac = sign(secret, _label(campaign_id, link), -1 if delivery_id is None else delivery_id)
    if not hmac.compare_digest(m.group(4), mac):
        return None
    return Hit(campaign_id, delivery_id, link)
