"""Kept so the API and web routers' imports keep working while they are being restructured: the
address rules live in app.addresses, which both audience and bounces use. New code imports that."""

from app.addresses import Address, InvalidAddress, email_key, has_mx, normalise

__all__ = ["Address", "InvalidAddress", "email_key", "has_mx", "normalise"]
