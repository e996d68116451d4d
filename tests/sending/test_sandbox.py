"""The bounded sandbox on its own: each hostile template stops at a limit, quickly, having allocated
little; ordinary templates render as before."""

import time
import tracemalloc

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.sending.sandbox import BoundedEnvironment, Limits, RenderLimitExceeded, limited, render

A = "{% set a = 'x' * 1000000 %}"
HOSTILE = {
    "nested loops with output": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "nested loops without output": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "loops over a long string": A + "{% for x in a %}{% for y in a %}{% endfor %}{% endfor %}",
    "string repetition": "{{ 'x' * 10**10 }}",
    "list repetition": A + "{{ [a] * 1000 }}",
    "big numbers": "{% set ns = namespace(x=2) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
    "doubling by ~": A
    + "{% set ns = namespace(s=a) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "a captured block": A + "{% set b %}{% for i in range(100000) %}{{ a }}{% endfor %}{% endset %}",
    "escaped copies": "{% set a = '<' * 1000000 %}{% set b %}{% for i in range(100000) %}{{ a }}{% endfor %}{% endset %}",
    "copies kept in a list": A + "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
    "{% set ns.l = ns.l + [a|upper] %}{% endfor %}",
    "center filter": "{{ 'x'|center(10**10) }}",
    "ljust method": "{{ 'x'.ljust(10**10) }}",
    "format width": "{{ '{:>{}}'.format(1, 10**10) }}",
    "percent width": "{{ '%10000000000s' % 1 }}",
    "replace": A + "{{ a|replace('x', a) }}",
    "join": A + "{{ ([a] * 2)|join(a) }}",
    "indent": "{{ 'x'|indent(10**10, true) }}",
    "batch padding": "{{ [1]|batch(10**9, 'x')|list }}",
    "exponential macro": "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "a quadratic test": "{{ range(100000)|select('in', range(100000)|list)|list|length }}",
    "repr of a shared dict": A + "{{ {}.fromkeys(range(100000), a) }}",
    "sum of lists": "{{ ([[1]] * 100000)|sum(start=[]) }}",
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_templates_stop_at_a_limit_quickly_and_small(source: str) -> None:
    template = BoundedEnvironment(autoescape=True).from_string(source)
    tracemalloc.start()
    t0 = time.process_time()
    try:
        with pytest.raises(RenderLimitExceeded), limited(Limits(seconds=1.0)):
            render(template, {})
        took = time.process_time() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert took < 3, f"{took:.1f} s of CPU"
    assert peak < 64 * 1024 * 1024, f"{peak / 2**20:.0f} MB allocated"


def test_ordinary_templates_render_as_jinja_does() -> None:
    source = (
        "{% macro item(p) %}<li>{{ p.name|title }}: {{ '%.2f'|format(p.price) }}</li>{% endmacro %}"
        "<ul>{% for p in items if p.price > 1 %}{{ item(p) }}{% endfor %}</ul>{{ 'a-b'.split('-')|join(', ') }}"
        "{% set note %}Hi {{ name }}{% endset %}{{ note|upper }} {{ '{:>6}'.format(name) }} {{ name ~ '!' * 2 }}"
    )
    items = [{"name": "tea", "price": 2.5}, {"name": "mug", "price": 0.5}, {"name": "pot", "price": 12}]
    context = {"items": items, "name": "<Ann>"}
    with limited(Limits()):
        out = render(BoundedEnvironment(autoescape=True).from_string(source), context)
    assert out == ImmutableSandboxedEnvironment(autoescape=True).from_string(source).render(context)
    assert out.startswith("<ul><li>Tea: 2.50</li><li>Pot: 12.00</li></ul>a, b") and out.endswith("&lt;Ann&gt;!!")


def test_a_render_outside_the_limits_is_refused() -> None:
    with pytest.raises(RuntimeError, match="limited"):
        render(BoundedEnvironment().from_string("{{ 'x' * 2 }}"), {})
