import pytest
from sqlalchemy import Engine

from app.addresses import (
    ROLE_LOCAL_PARTS,
    InvalidAddress,
    email_key,
    is_plain,
    normalise,
    plain_address,
    plain_address_sql,
)


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


MIX = [
    "bob@example.com", "Bob.Smith@Example.COM", "postmaster@example.org", "Info+News@example.org", "a@b.co",
    "x@xn--bcher-kva.de", "x@XN--BCHER-KVA.DE", "o'neil@example.ie", "a.b-c_d~e@sub.mail.example.com",
    "a" * 64 + "@example.com", "a" * 65 + "@example.com", "b@" + "c" * 63 + ".example.com",
    "a" * 64 + "@" + ".".join(["d" * 60] * 3) + ".com", "a" * 64 + "@" + ".".join(["d" * 61] * 3) + ".com",
    "a" * 64 + "@" + ".".join(["d" * 50] * 4) + ".com",
    "bob@example.com\n", " bob@example.com", "bob@@example.com", "bob@example", "bob@localhost", "a..b@x.org",
    ".a@x.org", "a.@x.org", "a@-b.com", "a@b-.com", "a@b.c", "a@b.123", "a@[192.0.2.1]", '"a b"@x.org',
    "Bob <bob@example.com>", "jörg@bücher.de", "anna@bücher.de", "bob example.com", "a b@c.com", "@x.org",
    "bob@", "", "bob@exa_mple.com", "bob@example..com", "x@example.com.", "ab{c}@example.com",
]  # fmt: skip


@pytest.mark.parametrize("raw", MIX)
def test_plain_fast_path_decides_as_the_full_parser(raw: str) -> None:
    """The import's fast path either hands over (None) or gives exactly what normalise gives."""
    try:
        full = normalise(raw)
    except InvalidAddress:
        full = None
    plain = plain_address(raw)
    if plain is not None:
        assert full is not None and plain == (full.email, full.key, full.is_role)


def test_plain_fast_path_takes_the_common_addresses() -> None:
    for raw in ("bob@example.com", "Bob.Smith@Example.COM", "postmaster@example.org", "x@xn--bcher-kva.de"):
        assert plain_address(raw) is not None


def test_plain_addresses_normalised_in_sql_as_in_python(engine: Engine) -> None:
    """The import normalises plain rows in SQL: the same email, key and role flag as plain_address."""
    raws = [r.strip() for r in MIX if is_plain(r.strip())] + [f"{r.upper()}+x@Example.ORG" for r in ROLE_LOCAL_PARTS]
    raws += ["Info@EXAMPLE.com", "newsletter@example.com", "support+a+b@x.org", "a+@x.org", "+abuse@x.org"]
    postgresql = engine.dialect.name == "postgresql"
    email, key, role = plain_address_sql("c", postgresql)
    p = "%(c)s" if postgresql else ":c"
    with engine.connect() as connection:
        for raw in raws:
            got = connection.exec_driver_sql(
                f"SELECT {email}, {key}, {role} FROM (SELECT CAST({p} AS text) AS c) t", {"c": raw}
            ).one()
            assert (got[0], got[1], bool(got[2])) == plain_address(raw), raw
