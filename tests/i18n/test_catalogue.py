"""The German catalogue covers every marked text of the code and the templates, placeholders intact, so a new
untranslated text fails here (run `bulkmail i18n update`, translate it in locale/de/LC_MESSAGES/messages.po)."""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

from app import i18n
from app.i18n.catalogue import po_path
from app.i18n.extract import extract, problems
from app.i18n.formats import percent
from app.i18n.labels import label
from app.subscription import forms


def test_every_marked_text_has_a_german_translation_with_the_same_placeholders() -> None:
    found = problems("de")
    assert not found, "\n".join(f"{p.where}: {p.what}: {p.msgid!r}" for p in found)


def test_the_check_names_an_untranslated_text_and_a_translation_that_loses_a_placeholder(tmp_path: Path) -> None:
    with po_path("de").open("rb") as f:
        catalog = read_po(f, locale="de")
    catalog["Language saved."].string = ""
    catalog["Saved: %(fields)s."].string = "Gespeichert."
    broken = tmp_path / "messages.po"
    with broken.open("wb") as f:
        write_po(f, catalog)
    found = {(p.msgid, p.what.split(":")[0]) for p in problems("de", broken)}
    assert found == {("Language saved.", "no translation"), ("Saved: %(fields)s.", "placeholders differ")}


def test_the_extraction_finds_the_texts_of_templates_and_of_python() -> None:
    where = {path for message in extract() for path, _line in message.locations}
    assert "templates/web/unsubscribe.html" in where and "app/web/forms.py" in where


def test_the_mails_bulkmail_writes_itself_are_in_the_catalogue() -> None:
    """The invitation and the signup mails' default texts are checked like every page's (the test above)."""
    where = {path for message in extract() for path, _line in message.locations}
    assert {"app/users/invites.py", "app/subscription/forms.py"} <= where
    try:
        with i18n.speaking("de"):
            assert forms.default_confirm_subject() == "Bitte bestätigen Sie Ihr Abonnement von {{ list_name }}"
            assert forms.default_welcome_text().startswith("Willkommen bei {{ list_name }}!")
        assert i18n.current() == "en"  # the block's language ends with it
        with i18n.speaking(None, fallback="de"):  # no language of their own: the installation's
            assert i18n.current() == "de"
    finally:
        i18n.begin(None)


def test_percentages_and_roles_read_in_the_language() -> None:
    try:
        i18n.begin("de")
        assert (percent(45.3), percent(100), percent(0.5, 2)) == ("45,3\xa0%", "100,0\xa0%", "0,50\xa0%")
        assert percent(12345.6) == "12.345,6\xa0%" and label("viewer") == "Betrachter"
        i18n.begin("en")
        assert (percent(45.3), percent(100), percent(0.5, 2)) == ("45.3 %", "100.0 %", "0.50 %")  # as always
        assert label("viewer") == "viewer"
    finally:
        i18n.begin(None)


def test_the_language_follows_the_browser_by_preference_and_falls_back_to_english() -> None:
    assert i18n.from_accept_language("fr-CH, de;q=0.8, en;q=0.5") == "de"
    assert i18n.from_accept_language("en-GB;q=0.4, de-AT;q=0.9") == "de"
    assert i18n.from_accept_language("fr, it;q=0.9") is None
    assert i18n.from_accept_language("de;q=0, en") == "en"
    assert i18n.from_accept_language("de;q=nonsense") is None
    try:
        i18n.begin(i18n.from_accept_language("fr"))
        assert i18n.current() == "en" and i18n.gettext("Language saved.") == "Language saved."
        i18n.use("de")
        assert i18n.gettext("Saved: %(fields)s.", fields="language") == "Gespeichert: language."
    finally:
        i18n.begin(None)  # what follows in this thread is English again


def test_a_stored_state_reads_in_the_language_and_anything_else_stays_as_it_is() -> None:
    try:
        i18n.begin("de")
        assert label("paused") == "angehalten" and label("unsubscribed") == "abgemeldet"
        assert label("Name") == "Name" and label(None) == ""  # not a state: never looked up
        i18n.begin("en")
        assert label("paused") == "paused"
    finally:
        i18n.begin(None)
