"""Pixel and click routes: signed URLs written into each message, hits recorded in batches, the redirect
going only where the campaign's links went."""

import logging
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from app.main import create_app
from app.models import MessageTemplate, TrackingHit, utcnow
from app.tracking.routes import quiet_access_log
from tests.tracking.support import launched, message, sent, tracked_urls

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def _path(url: str) -> str:
    return url.removeprefix("http://testserver")


def test_links_are_rewritten_and_a_click_redirects_to_the_campaigns_link(settings, engine, session):
    campaign = launched(session, settings)
    [d, *_] = sent(engine, campaign.id, utcnow() - timedelta(hours=1))
    msg = message(engine, settings, campaign.id, d)
    pixel, clicks = tracked_urls(msg)
    html = msg.get_body(("html",)).get_content()
    assert "shop.example/sale" not in html and "shop.example/news" not in html
    assert "https://shop.example/?u=" in html  # a link built from variables goes out as rendered
    assert "/u/u" in html  # the unsubscribe link is never rewritten
    text = msg.get_body(("plain",)).get_content()
    assert "/t/c/" in text and "shop.example/sale" not in text and "/u/u" in text
    with TestClient(create_app(settings)) as client:
        r = client.get(_path(clicks[0]), headers={"User-Agent": CHROME}, follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "https://shop.example/sale?a=1&b=2"
        r = client.get(_path(pixel), headers={"User-Agent": CHROME})
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        client.app.state.recorder.flush()
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(TrackingHit)).scalar_one() == 2


def test_the_redirect_refuses_a_changed_or_unknown_token(settings, engine, session):
    campaign = launched(session, settings)
    [d, *_] = sent(engine, campaign.id, utcnow())
    _, clicks = tracked_urls(message(engine, settings, campaign.id, d))
    token = _path(clicks[0]).removeprefix("/t/c/")
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")
    with TestClient(create_app(settings)) as client:
        for path in (f"/t/c/{forged}", "/t/c/https://evil.example", "/t/c/1._.9-aaaaaaaaaaaa", f"/t/o/{token}"):
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 404 and "location" not in r.headers, path
            assert "Link not found" in r.text
        client.app.state.recorder.flush()
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(TrackingHit)).scalar_one() == 0


def test_a_link_in_the_campaigns_layout_is_tracked_too(settings, engine, session):
    frame = MessageTemplate(name="frame", kind="layout", html_template=(
        '<html><body>{{ content }}<a href="https://shop.example/footer">Our shop</a></body></html>'),
        text_template="{{ content }}\nOur shop: https://shop.example/footer\n")  # fmt: skip
    session.add(frame)
    session.commit()
    campaign = launched(session, settings, html_template='<p>Hi</p><a href="https://shop.example/sale">Sale</a>',
                        text_template="Hi", layout_id=frame.id)  # fmt: skip
    [d, *_] = sent(engine, campaign.id, utcnow())
    msg = message(engine, settings, campaign.id, d)
    html = msg.get_body(("html",)).get_content()
    assert "shop.example/footer" not in html and "shop.example/sale" not in html
    _, clicks = tracked_urls(msg)
    with TestClient(create_app(settings)) as client:
        targets = {client.get(_path(u), headers={"User-Agent": CHROME}, follow_redirects=False).headers["location"]
                   for u in clicks}  # fmt: skip
    assert targets == {"https://shop.example/sale", "https://shop.example/footer"}


def test_the_access_log_leaves_the_hits_out(caplog):  # type: ignore[no-untyped-def]
    quiet_access_log()
    access = logging.getLogger("uvicorn.access")
    line = '%s - "%s %s HTTP/%s" %d'
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(line, "10.0.0.1:1", "GET", "/t/o/1.2.0-abcdefghijkl", "1.1", 200)
        access.info(line, "10.0.0.1:1", "GET", "/t/c/1.2.1-abcdefghijkl", "1.1", 302)
        access.info(line, "10.0.0.1:1", "GET", "/campaigns", "1.1", 200)
    assert [r.getMessage() for r in caplog.records] == ['10.0.0.1:1 - "GET /campaigns HTTP/1.1" 200']
