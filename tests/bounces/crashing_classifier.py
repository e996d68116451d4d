"""A classifier that kills the worker process running it when a message carries X-Crash-Classifier:
the sweep's pool imports it by name, as it does the real one."""

import os

from bounce_parsers import Classification
from bounce_parsers import classify as real_classify


def classify(raw: bytes) -> Classification:
    if b"X-Crash-Classifier: yes" in raw:
        os._exit(3)
    return real_classify(raw)
