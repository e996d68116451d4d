"""The one error the relay and identity services raise for a value they cannot take or a row that cannot go."""


class Refused(ValueError):
    """`field` names the field at fault; `status` is what the API answers (422 a bad value, 409 a conflict)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        self.field, self.status = field, status
        super().__init__(message)
