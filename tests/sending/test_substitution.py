"""Templates that only put names into text take a short path past Jinja's per-render machinery; what a
recipient receives is the same, and the size limit still holds."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sending.render import _ENVS, CampaignTemplates, RenderFailed
from app.sending.sandbox import Limits, Substitution, limited, render

NAMES = ["first_name", "city", "member", "missing", "range", "note"]
VALUES = st.one_of(
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
PIECES = st.lists(
    st.one_of(
        st.sampled_from([f"{{{{ {n} }}}}" for n in NAMES] + ["{{- city -}}", "{# note #}"]),
        st.text(alphabet="ab <>&\"'\n\r\t{}%#-", max_size=8).filter(lambda t: "{" not in t and "#}" not in t),
    ),
    max_size=12,
)


def _jinja(source: str, autoescape: bool, ctx: dict[str, object]) -> str:
    template = _ENVS[(autoescape, False)].from_string(source)
    with limited(Limits()):
        return render(template, ctx)


@settings(max_examples=400, deadline=None)
@given(PIECES, st.dictionaries(st.sampled_from(NAMES), VALUES), st.booleans())
def test_the_short_path_renders_what_jinja_renders(pieces: list[str], ctx: dict[str, object], html: bool) -> None:
    source = "".join(pieces)
    plain = Substitution.of(_ENVS[(html, False)], source)
    assert plain is not None, source
    with limited(Limits()):
        fast = plain.render(ctx)
    if fast is not None:  # None: the value needs Jinja (a list, None, a global's name...)
        assert fast == _jinja(source, html, ctx)


@pytest.mark.parametrize(
    "source", ["{{ name|upper }}", "{% if x %}y{% endif %}", "{{ attributes.city }}", "{{ a ~ b }}", "{{ 'x' }}"]
)
def test_templates_that_do_more_than_substitute_keep_jinja(source: str) -> None:
    assert Substitution.of(_ENVS[(True, False)], source) is None


def test_a_mail_merge_renders_escaped_in_html_and_empty_for_a_missing_name() -> None:
    t = CampaignTemplates.compile("{{ first_name }}, {{ city }}", "<p>{{ note }} {{ nothing }}</p>", "{{ member }}")
    assert set(t.substitutions) == {"subject", "html", "text"}
    ctx = {"first_name": "Tom & Jerry", "city": "Oslo", "note": "<b>hi</b>", "member": 12}
    assert t.render(ctx) == ("Tom & Jerry, Oslo", "<p>&lt;b&gt;hi&lt;/b&gt; </p>", "12")
    # a value the short path does not handle falls back to Jinja for that part
    assert t.render({**ctx, "member": [1, 2]})[2] == "[1, 2]"


def test_the_message_size_limit_still_holds_on_the_short_path() -> None:
    t = CampaignTemplates.compile("Hi", "<p>{{ note }}</p>", "{{ note }}")
    with pytest.raises(RenderFailed, match="larger than 1000 bytes") as err:
        t.render({"note": "x" * 600}, Limits(max_bytes=1000))
    assert err.value.part == "text"  # the HTML fitted; both together do not
