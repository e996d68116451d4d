"""Per-message cost of composing a campaign message (render of subject, HTML and text + MIME bytes).

    python bench/sending/render_overhead.py [N]

Prints the median of 5 runs of N compose() calls, in microseconds per message, for a small
personalised template and one with a loop over 20 attribute items."""

import statistics
import sys
import time

from app.models import Campaign
from app.sending.compose import Composer
from app.settings import Settings

HTML = '<p>Hello {{ first_name }} from {{ city }}</p><a href="{{ unsubscribe_url }}">unsubscribe</a>'
TEXT = "Hello {{ first_name }} from {{ city }}\nUnsubscribe: {{ unsubscribe_url }}\n"
LOOP = "<ul>{% for item in items %}<li>{{ item.name|title }}: {{ '%.2f'|format(item.price) }}</li>{% endfor %}</ul>"


def run(html: str, attrs: dict, n: int) -> float:
    campaign = Campaign(id=1, name="Bench", from_name="Shop", from_address="news@example.test",
                        subject="Hi {{ first_name }}", html_template=html, text_template=TEXT, list_ids=[1])  # fmt: skip
    composer = Composer(campaign, Settings(bounce_address="noreply@example.test"), b"k" * 32, None)
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for i in range(n):
            composer.compose(f"r{i}@example.test", "Ann", "Lee", attrs, delivery_id=i + 1)
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    items = [{"name": f"item {i}", "price": i * 1.5} for i in range(20)]
    print(f"simple template: {run(HTML, {'city': 'Oslo'}, n):.1f} us/message")
    print(f"20-item loop:    {run(LOOP, {'city': 'Oslo', 'items': items}, n):.1f} us/message")
