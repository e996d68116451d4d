"""The compose page shows every template's error at once, each next to its field with its line."""

import re


def test_compose_shows_the_errors_of_subject_html_and_text_together(web):
    r = web.post("/lists", {"name": "News"}, follow_redirects=False)
    list_id = int(r.headers["location"].rsplit("/", 1)[1])
    web.post(f"/lists/{list_id}/paste", {"addresses": "Ann Lee <ann@example.com>"})
    form = {"name": "Spring", "from_address": "news@example.test", "list_ids": str(list_id),
            "subject": "Hi {{ first_name }", "html_template": "<p>\n{{ shoe_size }}</p>",
            "text_template": "Hello\n\n{% for x in range(10**10) %}{% endfor %}"}  # fmt: skip
    r = web.post("/campaigns/new", form, follow_redirects=False)
    assert r.status_code == 400
    assert re.search(r'id="subject-error">line 1: ', r.text)
    assert re.search(r'id="html_template-error">line 2: unknown variable', r.text)
    assert re.search(r'id="text_template-error">line 3: does not render for ann@example.com: ', r.text)
    assert "OverflowError" not in r.text
