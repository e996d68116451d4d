"""What MJML costs a campaign: the one compile per campaign, and the per-message compose of the compiled HTML
beside the same message written as plain HTML (side by side, same run).

    python bench/sending/mjml_compose.py [N]

Prints the compile time (first: with the helper process starting; then warm) and the median of 5 runs of N
compose() calls in microseconds per message for each template: a small HTML one, the MJML one, and the MJML's
compiled HTML saved as a plain HTML template (what "compiled once" should cost the same as)."""

import statistics
import sys
import time

from app.models import Campaign
from app.sending import bodies
from app.sending.compose import Composer
from app.sending.mjml import compile_mjml
from app.sending.sandbox import Limits
from app.settings import Settings

TEXT = "Hello {{ first_name }} from {{ city }}\nUnsubscribe: {{ unsubscribe_url }}\n"
HTML = (
    '<html><body><table><tr><td><p>Hello {{ first_name }} from {{ city }}</p><a href="{{ view_in_browser_url }}">web</a>'
    '<a href="{{ unsubscribe_url }}">unsubscribe</a></td></tr></table></body></html>'
)
MJML = """<mjml><mj-body><mj-section><mj-column>
<mj-text>Hello {{ first_name }} from {{ city }}</mj-text>
<mj-button href="{{ view_in_browser_url }}">web</mj-button>
<mj-text><a href="{{ unsubscribe_url }}">unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""


def per_message(html: str, language: str, n: int) -> float:
    campaign = Campaign(id=1, name="Bench", from_name="Shop", from_address="news@example.test", subject="Hi",
                        html_template=html, text_template=TEXT, template_language=language, list_ids=[1])  # fmt: skip
    composer = Composer(campaign, Settings(bounce_address="noreply@example.test"), b"k" * 32, None)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(n):
            composer.compose(f"r{i}@example.test", "Ann", "Lee", {"city": "Oslo"}, delivery_id=i + 1)
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    t0 = time.perf_counter()
    compile_mjml(MJML, Limits())
    cold = time.perf_counter() - t0
    warm = []
    for i in range(20):  # a new source each time: the compile cache does not answer
        t0 = time.perf_counter()
        compile_mjml(MJML.replace("web", f"web {i}"), Limits())
        warm.append(time.perf_counter() - t0)
    bodies._compiled.kept.clear()
    print(
        f"MJML compile, helper process starting: {cold * 1000:.1f} ms; warm median: {statistics.median(warm) * 1000:.2f} ms"
    )
    compiled = compile_mjml(MJML, Limits())
    html_us, mjml_us = per_message(HTML, "jinja", n), per_message(MJML, "mjml", n)
    same_us = per_message(compiled, "jinja", n)
    print(f"compose, small plain HTML template ({len(HTML)} chars): {html_us:.1f} us/message")
    print(f"compose, MJML compiled once ({len(compiled)} chars of HTML): {mjml_us:.1f} us/message")
    print(f"compose, that compiled HTML saved as plain HTML: {same_us:.1f} us/message ({mjml_us / same_us:.2f} x)")
