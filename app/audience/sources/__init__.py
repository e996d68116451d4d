"""Import sources. Each turns a file into a stream of `Record`s (one per CSV row, vCard or typed
address group) without holding the file in memory; the importer validates and stores them."""

from app.audience.sources.base import ImportFailed, Record, Source
from app.audience.sources.detect import open_source

__all__ = ["ImportFailed", "Record", "Source", "open_source"]
