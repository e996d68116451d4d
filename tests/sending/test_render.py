"""Templates: sandboxed, escaped in HTML, checked up front."""

import pytest

from app.sending.render import CampaignTemplates, TemplateProblem, check_templates, contact_context


def _ctx(**attrs):  # type: ignore[no-untyped-def]
    ctx = contact_context("ann@example.test", "Ann", None, attrs)
    ctx.update(unsubscribe_url="https://x.test/u/1", campaign="News")
    return ctx


def test_html_is_escaped_text_and_subject_are_not() -> None:
    t = CampaignTemplates.compile("{{ note }}", "<p>{{ note }}</p>", "{{ note }}")
    subject, html, text = t.render(_ctx(note="<b>Tom & Jerry</b>"))
    assert html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert subject == text == "<b>Tom & Jerry</b>"


def test_attributes_are_variables_and_builtins_win() -> None:
    t = CampaignTemplates.compile("{{ email }}", "{{ city }} {{ attributes.email }}", "{{ first_name }}")
    assert t.render(_ctx(city="Oslo", email="spoof@evil.test")) == ("ann@example.test", "Oslo spoof@evil.test", "Ann")


def test_unknown_variable_names_field_and_line() -> None:
    with pytest.raises(TemplateProblem) as err:
        check_templates("Hi", "<p>\n\n{{ cty }}</p>", "", {"city"})
    assert err.value.field == "html_template" and err.value.line == 3 and "'cty'" in str(err.value)


def test_a_template_that_fails_for_a_real_contact_is_refused_up_front() -> None:
    with pytest.raises(TemplateProblem, match="does not render for bob@example.test"):
        check_templates("Hi", "{{ points + 1 }}", "", {"points"},
                        [contact_context("bob@example.test", "Bob", None, {"points": "ten"})])  # fmt: skip


def test_sandbox_refuses_unsafe_attribute_access() -> None:
    with pytest.raises(TemplateProblem, match="subject"):
        check_templates("{{ email.__class__.__mro__[1].__subclasses__() }}", "<p>x</p>", "", set())


def test_a_body_is_required() -> None:
    with pytest.raises(TemplateProblem, match="HTML or a text body"):
        check_templates("Hi", "  ", "", set())
