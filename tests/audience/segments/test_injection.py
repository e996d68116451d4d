"""Nothing an expression says reaches the SQL text: values, list names and field names travel as bound
parameters or are refused with a position. Each hostile value below is stored on a contact and then
asked for; it must match that contact exactly and leave every table as it was, on both databases."""

import random

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.audience.segments.parse import SegmentError, parse, tokens
from app.audience.segments.store import SegmentProblem, compiled, preview
from app.audience.segments.tree import quote
from app.models import Bounce, Contact, CustomField, Delivery, ListMember, MailingList
from tests.audience.segments.conftest import NOW, World, _contact

HOSTILE = [
    "'; DROP TABLE contact; --",
    "x' OR '1'='1",
    "' OR 1=1 --",
    '" OR ""="',
    "/* comment */ DE",
    "DE -- trailing comment",
    "back\\slash\\' still inside",
    "\\x27; DELETE FROM bounce",
    "%",
    "_",
    "DE%",
    "Ünïcödé 𝔘𝔫𝔦 \u202e right-to-left",
    "tab\tnew\nline",
    "'",
    "''",
    "$1",
    ":param",
    "%(country)s",
    "?",
    "); DROP TABLE mailing_list; (",
    "DE\u0000",  # refused: no database stores a NUL in text
]


def _tables(session: Session) -> dict[str, int]:
    models = [("contact", Contact), ("list", MailingList), ("member", ListMember), ("delivery", Delivery)]
    models += [("bounce", Bounce), ("field", CustomField)]
    return {name: session.execute(select(func.count()).select_from(m)).scalar_one() for name, m in models}


def test_hostile_values_match_only_themselves(session: Session, world: World) -> None:
    stored = {}
    for i, value in enumerate(HOSTILE):
        if "\x00" in value:
            continue
        c = _contact(session, f"hostile{i}@example.net", NOW, country=value, company=value)
        stored[value] = c.email
    session.commit()
    before = _tables(session)
    wrong = []
    for value, email in stored.items():
        for expression in (f"country = {quote(value)}", f"country in ('x', {quote(value)})"):
            got = preview(session, expression, NOW)
            if got.sample != [email] or got.count != 1:
                wrong.append((expression, got.sample))
        contained = preview(session, f"country contains {quote(value)}", NOW)
        if email not in contained.sample:  # a substring search, never a pattern: % and _ are plain text
            wrong.append(("contains", value, contained.sample))
    assert wrong == []
    assert preview(session, "country contains '%'", NOW).count == 3  # "%", "DE%" and "%(country)s", no more
    assert _tables(session) == before


def test_a_nul_is_refused_with_its_position(session: Session, world: World) -> None:
    with pytest.raises(SegmentProblem) as err:
        preview(session, "country = 'DE\x00'", NOW)
    assert err.value.position == {"offset": 13, "line": 1, "column": 14}


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_values_are_bound_never_written_into_the_sql(session: Session, world: World, dialect: object) -> None:
    for value in HOSTILE[:-1]:
        expression = f"country = {quote(value)} or domain contains {quote(value)} or list in ('News', {quote(value)}) or bounced reason {quote(value)}"
        try:
            where = compiled(session, expression, NOW).where
        except SegmentProblem as exc:  # a list of that name does not exist: refused, with the position
            assert "no list named" in exc.message
            where = compiled(session, f"country = {quote(value)} or bounced reason {quote(value)}", NOW).where
        sql = str(select(Contact.id).where(where).compile(dialect=dialect))  # type: ignore[arg-type]
        if len(value) > 2:
            assert value not in sql, (value, sql)
        assert "DROP" not in sql and "DELETE" not in sql


FIELD_NAMES_AS_SQL = [
    ("id = 1 or 1 = 1", 1, "no field named 'id'"),
    ("email_key = 'x'", 1, "no field named 'email_key'"),
    ("attributes = 'x'", 1, "no field named 'attributes'"),
    ("contact.id = 1", 8, "unexpected character '.'"),
    ("\"country\" = 'DE'", 1, "unexpected character '\"'"),
    ("`country` = 'DE'", 1, "unexpected character '`'"),
    ("[country] = 'DE'", 1, "unexpected character '['"),
    ("select = 'x'", 1, "no field named 'select'"),
    ("1 = 1", 1, "expected a field"),
    ("country = 'DE'; DROP TABLE contact", 15, "unexpected character ';'"),
    ("country = 'DE' OR 1=1", 19, "expected a field"),
    ("count\u0000ry = 'DE'", 6, "unexpected character '\\x00'"),
    ("ｃountry = 'DE'", 1, "unexpected character"),  # a full-width letter is not c
]


def test_field_names_written_as_sql_are_refused(session: Session, world: World) -> None:
    before = _tables(session)
    for expression, column, message in FIELD_NAMES_AS_SQL:
        with pytest.raises(SegmentProblem) as err:
            preview(session, expression, NOW)
        assert err.value.position is not None and err.value.position["column"] == column, (expression, err.value)
        assert message in err.value.message, (expression, err.value.message)
    assert _tables(session) == before


def test_random_input_either_parses_or_names_a_position(session: Session, world: World) -> None:
    """A fuzz of SQL-ish fragments: every outcome is a tree or a SegmentError, never anything else."""
    rng = random.Random(20)
    pieces = ["country", "score", "=", "!=", "'", "''", "(", ")", ",", "and", "or", "not", "in", "is", "empty",
              "'DE'", "10", "-", "--", "/*", "*/", ";", "\\", "bounced", "hard", "within", "days", "list", "é", "\n", " "]  # fmt: skip
    custom = {d.name: d for d in _definitions(session)}
    outcomes = {"tree": 0, "error": 0}
    valid = ["country = 'DE'", "score >= 10", "not bounced hard within 90 days", "list in ('News')", "vip = true"]
    for _ in range(3000):
        # a valid expression with a random piece put somewhere in it, or random pieces alone
        text = " and ".join(rng.sample(valid, rng.randint(1, 3)))
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(pieces) + text[at:] if rng.random() < 0.7 else "".join(rng.choices(pieces, k=8))
        try:
            parse(text, custom)
            outcomes["tree"] += 1
        except SegmentError as exc:
            assert 0 <= exc.offset <= len(text) and exc.line >= 1 and exc.column >= 1
            outcomes["error"] += 1
    assert outcomes["tree"] > 20 and outcomes["error"] > 20


def _definitions(session: Session):  # type: ignore[no-untyped-def]
    from app.audience.fields import definitions

    return definitions(session).values()


def test_tokens_keep_a_quoted_quote_inside_the_text() -> None:
    (token, end) = tokens("'it''s -- not a comment'")
    assert token.kind == "string" and token.value == "it's -- not a comment" and end.kind == "end"
