class BackupFailed(Exception):
    """A backup or restore that could not be done, with what to do about it in words."""
