import pytest

from app.addresses import InvalidAddress, email_key, normalise


@pytest.mark.parametrize(
    ("raw", "email", "key"),
    [
        ("Bob@Example.COM", "Bob@example.com", "bob@example.com"),
        ("  bob@example.com ", "bob@example.com", "bob@example.com"),
        ("Jörg@BÜCHER.de", "Jörg@xn--bcher-kva.de", "jörg@xn--bcher-kva.de"),
        ("x@xn--bcher-kva.de", "x@xn--bcher-kva.de", "x@xn--bcher-kva.de"),
        ('"Smith, J" <J.Smith@X.org>', "J.Smith@x.org", "j.smith@x.org"),
        ("bob+news@example.com", "bob+news@example.com", "bob+news@example.com"),
    ],
)
def test_normal_form_and_key(raw: str, email: str, key: str) -> None:
    address = normalise(raw)
    assert (address.email, address.key) == (email, key)
    assert email_key(raw) == key


def test_unicode_and_ace_domains_share_a_key() -> None:
    assert normalise("anna@bücher.de").key == normalise("ANNA@xn--bcher-kva.de").key


def test_display_name_is_kept() -> None:
    assert normalise('"Smith, J" <j@x.org>').display_name == "Smith, J"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("bob@@example.com", '"bob@@example.com" is not a valid address'),
        ("bob example.com", "has no @"),
        ("a b@c.com", "contains a space"),
        ("x@localhost", '"localhost" is not a valid domain name'),
        ("a@-b.com", '"-b.com" is not a valid domain name'),
        ("a@[192.0.2.1]", "address literals"),
        ("a" * 65 + "@x.org", "longer than 64 bytes"),
        ("", "empty address"),
    ],
)
def test_invalid_addresses_say_why(raw: str, message: str) -> None:
    with pytest.raises(InvalidAddress, match=message.replace("[", r"\[").replace("+", r"\+")):
        normalise(raw)


@pytest.mark.parametrize("raw", ["postmaster@example.com", "Abuse@example.com", "info+x@example.com"])
def test_role_addresses_are_flagged(raw: str) -> None:
    assert normalise(raw).is_role


def test_person_is_not_a_role() -> None:
    assert not normalise("alice@example.com").is_role
