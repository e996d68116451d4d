"""The test run never reads or writes the data of a bulkmail the user runs on this machine."""

from pathlib import Path

from platformdirs import user_data_dir

from app.paths import default_data_dir


def test_the_default_database_of_commands_under_test_is_not_the_users() -> None:
    users = Path(user_data_dir("bulkmail", appauthor=False)).resolve()
    ours = default_data_dir()
    assert ours != users and users not in ours.parents, ours
