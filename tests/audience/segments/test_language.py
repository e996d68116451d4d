"""The segment language as a table: each operator, nesting and every error with its position, on
both databases (each expression counted and sampled by the preview)."""

import pytest
from sqlmodel import Session

from app.audience.segments.store import SegmentProblem, preview
from tests.audience.segments.conftest import NOW, World

ANN, BOB, CY, DEE, OBR = "ann@example.de", "bob@example.at", "cy@mail.de", "dee@example.de", "o'brien@example.ie"
EVERYONE = {ANN, BOB, CY, DEE, OBR}

MATCHES: list[tuple[str, set[str]]] = [
    ("country = 'DE'", {ANN, CY}),
    ("country != 'DE'", {BOB, DEE, OBR}),  # a contact without the value is not = 'DE', so it is != 'DE'
    ("country <> 'DE'", {BOB, DEE, OBR}),
    ("country in ('DE', 'AT')", {ANN, BOB, CY}),
    ("country not in ('DE')", {BOB, DEE, OBR}),
    ("country = 'de'", set()),  # values compare as typed
    ("country contains 'DROP'", {OBR}),
    ("country is empty", {DEE}),
    ("country is not empty", {ANN, BOB, CY, OBR}),
    ("score > 10", {BOB}),
    ("score >= 10", {ANN, BOB}),
    ("score < 50", {ANN}),
    ("score <= 55.5", {ANN, BOB}),
    ("score = 10", {ANN}),
    ("score != 10", {BOB, CY, DEE, OBR}),
    ("score in (10, 55.5)", {ANN, BOB}),
    ("score not in (10)", {BOB, CY, DEE, OBR}),
    ("score is empty", {CY, DEE, OBR}),  # dee's "12" is text, not a number
    ("vip = true", {ANN}),
    ("vip = false", {BOB}),
    ("vip != true", {BOB, CY, DEE, OBR}),
    ("vip is empty", {CY, DEE, OBR}),
    ("birthday < '2000-01-01'", {ANN}),
    ("birthday = '1990-05-01'", {ANN}),
    ("birthday is not empty", {ANN}),
    ("plan = 'gold'", {ANN}),  # a choice is matched to its option
    ("plan in ('Gold', 'Silver')", {ANN, CY}),
    ("address = 'bob@example.at'", {BOB}),
    ("address contains '''brien'", {OBR}),
    ("domain = 'example.de'", {ANN, DEE}),
    ("domain contains 'mail'", {CY}),
    ("first_name = 'Ann'", {ANN}),
    ("first_name is empty", {BOB, CY, DEE, OBR}),
    ("created < '2026-02-01'", {ANN, OBR}),
    ("created = '2026-01-10'", {ANN, OBR}),
    ("created != '2026-01-10'", {BOB, CY, DEE}),
    ("created >= '2026-06-09'", {BOB, CY, DEE}),
    ("created > '2026-06-09'", {CY, DEE}),
    ("created <= '2026-06-08'", {ANN, OBR}),
    ("created within 30 days", {CY}),
    ("list = 'News'", {ANN, BOB}),  # o'brien's signup is unconfirmed
    ("list in ('News', 'Offers')", {ANN, BOB, CY}),
    ("list != 'News'", {CY, DEE, OBR}),
    ("list not in ('News', 'Offers')", {DEE, OBR}),
    ("source = 'csv'", {ANN}),
    ("source in ('api')", {BOB, CY, OBR}),
    ("source != 'csv'", {BOB, CY, DEE, OBR}),
    ("consent = 'subscribed'", {ANN, BOB}),
    ("consent = 'unconfirmed'", {OBR}),
    ("consent = 'unsubscribed'", {CY}),
    ("consent in ('unconfirmed', 'unsubscribed')", {CY, OBR}),
    ("received", {ANN, BOB, CY}),
    ("received within 30 days", {ANN, CY}),
    ("not received", {DEE, OBR}),
    ("bounced", {BOB, CY}),
    ("bounced hard", {BOB}),
    ("bounced soft", {CY}),
    ("bounced reason 'mailbox_full'", {CY}),
    ("bounced within 90 days", {BOB}),
    ("bounced within 1 day", set()),
    ("complained", {CY}),
    ("complained within 2 days", {CY}),
    ("unsubscribed", {CY}),
    ("unsubscribed within 2 days", {CY}),
    ("opened", {ANN, BOB}),  # people's opens only: Apple's proxy fetching cy's pixel is no one's
    ("opened within 30 days", {ANN}),
    ("opened including machines", {ANN, BOB, CY}),
    ("opened within 30 days including machines", {ANN, CY}),
    ("not opened", {CY, DEE, OBR}),
    ("received and not opened", {CY}),
    ("clicked", {ANN}),
    ("clicked including machines", {ANN, BOB}),
    ("clicked link 'https://shop.example/sale' within 30 days", {ANN}),
    ("clicked link 'https://shop.example/news'", set()),  # a scanner's click
    ("clicked link 'https://shop.example/news' including machines", {BOB}),
    ("clicked link 'https://shop.example/nowhere'", set()),
    ("opened and not clicked", {BOB}),
    ("country = 'DE' and not (received within 3 days)", {ANN}),
    ("country = 'DE' or score > 50 and vip = false", {ANN, BOB, CY}),  # and binds tighter than or
    ("(country = 'DE' or score > 50) and not bounced", {ANN}),
    ("not not vip = true", {ANN}),
    ("NOT (list = 'News' OR list = 'Offers')", {DEE, OBR}),
    ("country = 'DE'\n  and list = 'Offers'", {CY}),
    ("((country = 'DE'))", {ANN, CY}),
    ("not (country = 'DE' and (score > 5 or vip = true)) and received", {BOB, CY}),
]


def test_each_operator_and_nesting(session: Session, world: World) -> None:
    table = [
        *MATCHES,
        (f"list = {world.offers}", {BOB, CY}),
        (f"received campaign {world.campaign}", {ANN, BOB, CY}),
        (f"bounced hard campaign {world.campaign} within 30 days", {BOB}),
        (f"unsubscribed campaign {world.campaign + 1}", set()),
        (f"opened campaign {world.campaign}", {ANN, BOB}),
        (f"clicked campaign {world.campaign} within 7 days", {ANN}),
        (f"opened campaign {world.campaign + 99}", set()),
    ]
    wrong = []
    for expression, expected in table:
        result = preview(session, expression, NOW, sample=10)
        if set(result.sample) != expected or result.count != len(expected):
            wrong.append((expression, sorted(result.sample), sorted(expected)))
    assert wrong == []


ERRORS: list[tuple[str, int, int, str]] = [
    ("", 1, 1, "expected a condition such as country = 'DE', found the end of the expression"),
    ("   ", 1, 4, "expected a condition"),
    ("country", 1, 8, "expected an operator"),
    ("country = ", 1, 11, "expected a value in quotes, e.g. 'DE', found the end of the expression"),
    ("country = 'DE", 1, 11, "this text has no closing quote"),
    ("country = DE", 1, 11, "expected a value in quotes, e.g. 'DE', found 'DE'"),
    ("country = 'DE' and", 1, 19, "expected a field, list, consent or an event"),
    ("country = 'DE' and and", 1, 20, "expected a field"),
    ("country = 'DE' or (score > 1", 1, 29, "expected ')' to close the '(' at column 19"),
    ("country = 'DE')", 1, 15, "found ')' where no '(' opened it"),
    ("country = 'DE' vip = true", 1, 16, "expected and, or, or the end of the expression, found 'vip'"),
    ("colour = 'red'", 1, 1, "no field named 'colour'"),
    ("score > 'ten'", 1, 9, "expected a number"),
    ("score contains 'x'", 1, 7, "expected one of =, !=, <, <=, >, >=, in, not in, is empty, is not empty after score"),
    ("country > 'DE'", 1, 9, "after country"),
    ("vip = 'yes'", 1, 7, "expected true or false"),
    ("plan = 'Bronze'", 1, 8, "expected one of the options of plan: 'Gold', 'Silver'"),
    ("created > '2026-13-01'", 1, 11, "expected a date written YYYY-MM-DD"),
    ("birthday within 'x'", 1, 17, "a number of days"),
    ("country = 'DE' and\nopened link 'x'", 2, 8, "expected and, or"),  # only a click has a link
    ("clicked link", 1, 13, "expected the link's URL in quotes, e.g. 'https://shop.example/sale'"),
    ("opened including", 1, 17, "expected 'machines' after 'including'"),
    ("received including machines", 1, 10, "expected and, or"),
    ("bounced within 0 days", 1, 16, "expected a number of days (a whole number from 1 to 36500)"),
    ("received within 5", 1, 18, "expected 'days'"),
    ("received campaign 'x'", 1, 19, "expected a campaign id"),
    ("complained hard", 1, 12, "expected and, or"),
    ("list = 'Nope'", 1, 1, "no list named 'Nope'"),
    ("score > 1 and list = 999999", 1, 15, "no list with id 999999"),
    ("country = 'DE' ; DROP TABLE contact", 1, 16, "unexpected character ';'"),
    ("country = 'DE' -- comment", 1, 16, "unexpected character '-'"),
    ("country = 'DE' /* x */", 1, 16, "unexpected character '/'"),
    ('country = "DE"', 1, 11, "unexpected character '\"'"),
    ("country in 'DE'", 1, 12, "expected '(' and a list of values after in"),
    ("country in ('DE' 'AT')", 1, 18, "expected ',' or ')'"),
    ("country not 'DE'", 1, 13, "expected 'in' after 'not'"),
    ("country is 'DE'", 1, 12, "expected 'empty'"),
    ("consent = 'maybe'", 1, 11, "expected one of 'subscribed', 'unconfirmed', 'unsubscribed'"),
    ("not " * 25 + "vip = true", 1, 81, "nested too deeply"),
    ("x = 'a'\n\n  and score ! 3", 3, 13, "unexpected character '!'"),
    ("country = 'D\x00E'", 1, 13, "unexpected character '\\x00'"),
    ("country = 'DE' and länd = 'x'", 1, 21, "unexpected character 'ä'"),
]


def test_every_error_names_its_position(session: Session, world: World) -> None:
    wrong = []
    for expression, line, column, message in ERRORS:
        try:
            preview(session, expression, NOW)
        except SegmentProblem as exc:
            assert exc.field == "expression" and exc.position is not None
            got = (exc.position["line"], exc.position["column"])
            if (
                got != (line, column)
                or message not in exc.message
                or not exc.message.startswith(f"line {line}, column {column}: ")
            ):
                wrong.append((expression, got, exc.message))
        else:
            wrong.append((expression, None, "no error"))
    assert wrong == []


def test_engagement_of_a_campaign_that_named_no_one_is_refused(session: Session, world: World) -> None:
    with pytest.raises(SegmentProblem) as err:
        preview(session, f"country = 'DE' and not opened campaign {world.anonymous}", NOW)
    assert err.value.message == (
        f"line 1, column 24: campaign {world.anonymous} counts opens and clicks without naming anyone, "
        "so who opened is not known"
    )


@pytest.mark.parametrize("backend_only", [True])
def test_unknown_words_list_the_known_fields(session: Session, world: World, backend_only: bool) -> None:
    with pytest.raises(SegmentProblem) as err:
        preview(session, "colour = 'red'", NOW)
    assert (
        "known: address, domain, first_name, last_name, language, created, source, list, consent" in err.value.message
    )
    assert "birthday, country, plan, score, vip" in err.value.message
