"""bulkmail: self-hosted bulk e-mail with a per-recipient ledger and bounce monitoring."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bulkmail")
except PackageNotFoundError:  # running from a checkout without install
    __version__ = "0.0.0+local"
