"""The roles' names, with no dependencies: the settings check a role map against them at start-up, before
any model is loaded (app.users.roles says what each role may do)."""

from typing import Literal, get_args

Role = Literal["admin", "marketer", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
