"""bounce_parsers: classify returned mail (bounces, complaints, auto-replies) from raw bytes.

A pure library: stdlib only, never raises on input. See classify.classify()."""

from .classify import HEADER_CAMPAIGN, HEADER_DELIVERY, Classification, Recipient, classify
from .reasons import classify_smtp_reply

__all__ = ["HEADER_CAMPAIGN", "HEADER_DELIVERY", "Classification", "Recipient", "classify", "classify_smtp_reply"]
