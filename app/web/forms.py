"""Small helpers for reading HTML forms: every problem is kept under the name of its field."""

from starlette.datastructures import FormData


class FormErrors(dict[str, str]):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def ints(form: FormData, name: str) -> list[int]:
    return [int(v) for v in form.getlist(name) if isinstance(v, str) and v.isdigit()]


def optional_int(form: FormData, name: str, errors: FormErrors) -> int | None:
    raw = text(form, name)
    if not raw:
        return None
    if not raw.isdigit():
        errors.add(name, "enter a whole number")
        return None
    return int(raw)


def addresses(raw: str) -> list[str]:
    """Addresses typed one per line or separated by commas or semicolons."""
    return [a.strip() for a in raw.replace(";", "\n").replace(",", "\n").splitlines() if a.strip()]
