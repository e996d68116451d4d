"""Mutations of real messages for robustness runs: truncation, byte flips, header shuffles,
charset relabelling, line-ending changes, broken boundaries, random splices."""

from __future__ import annotations

import random
import re

CHARSETS = (
    b"utf-8",
    b"iso-8859-1",
    b"iso-2022-jp",
    b"shift_jis",
    b"koi8-r",
    b"windows-1252",
    b"gb2312",
    b"x-unknown",
    b"utf-16",
    b"bogus-charset",
    b"",
    b"utf-7",
    b"euc-kr",
    b"big5",
)


def truncate(rng: random.Random, raw: bytes) -> bytes:
    return raw[: rng.randrange(len(raw) + 1)]


def flip_bytes(rng: random.Random, raw: bytes) -> bytes:
    buf = bytearray(raw)
    for _ in range(rng.randint(1, 20)):
        if buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def shuffle_headers(rng: random.Random, raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, sep, body = raw.partition(b"\r\n\r\n")
    lines = re.split(rb"\r?\n(?![ \t])", head)
    rng.shuffle(lines)
    return b"\n".join(lines) + sep + body


def relabel_charset(rng: random.Random, raw: bytes) -> bytes:
    cs = rng.choice(CHARSETS)
    return re.sub(rb"(?i)charset=\"?[A-Za-z0-9_.:-]*\"?", b"charset=" + cs, raw)


def line_endings(rng: random.Random, raw: bytes) -> bytes:
    text = raw.replace(b"\r\n", b"\n")
    return text.replace(b"\n", rng.choice((b"\r\n", b"\r", b"\n", b"\r\r\n")))


def break_mime(rng: random.Random, raw: bytes) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        return re.sub(rb"(?i)boundary=\"?[^\";\r\n]*\"?", b"boundary=", raw)
    if choice == 1:
        return re.sub(rb"(?m)^--[^\r\n]*--\s*$", b"", raw)
    if choice == 2:
        return re.sub(rb"(?i)content-transfer-encoding:[^\r\n]*", b"Content-Transfer-Encoding: base64", raw)
    return re.sub(
        rb"(?i)content-type:[^\r\n]*",
        rng.choice(
            (
                b"Content-Type: multipart/report",
                b"Content-Type: message/delivery-status",
                b"Content-Type: text/plain; charset=",
            )
        ),
        raw,
        count=2,
    )


def splice(rng: random.Random, raw: bytes) -> bytes:
    if not raw:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    a, b = sorted(rng.randrange(len(raw) + 1) for _ in range(2))
    junk = rng.choice(
        (
            b"=?utf-8?B?",
            b"=?x?Q?=ZZ?=",
            b"\x00" * 10,
            b"\xff\xfe",
            b"--",
            b"\n\n",
            b":" * 50,
            b"Final-Recipient: rfc822;",
            b"Status: 9.9.9999",
            b"<@>",
            b"@" * 100,
        )
    )
    return raw[:a] + junk + raw[b:] if rng.random() < 0.5 else raw[:a] + junk * rng.randint(1, 200) + raw[a:]


def encoded_words(rng: random.Random, raw: bytes) -> bytes:
    word = rng.choice(
        (
            b"=?utf-8?B?8J+qipcfkig=?=",
            b"=?iso-2022-jp?B?GyRCJWE=?=",
            b"=?bogus?Q?a=FFb?=",
            b"=?utf-8?B?!!!?=",
            b"=?koi8-r?q?=F0=D2?=",
        )
    )
    return re.sub(rb"(?im)^(subject|from|to):", lambda m: m.group(0) + b" " + word, raw, count=3)


MUTATORS = (truncate, flip_bytes, shuffle_headers, relabel_charset, line_endings, break_mime, splice, encoded_words)


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """One to three random mutations in a row."""
    for _ in range(rng.randint(1, 3)):
        raw = rng.choice(MUTATORS)(rng, raw)
    return raw


def mbox_join(rng: random.Random, a: bytes, b: bytes) -> bytes:
    """Two messages in one file, mbox style (and sometimes a stray separator-looking line)."""
    sep = b"From MAILER-DAEMON Mon Feb  3 10:00:00 2020\n"
    return sep + a + b"\n\n" + sep + b + (b"\n\nFrom x Tue Feb  4 1" if rng.random() < 0.2 else b"")


def wrap_rfc822(rng: random.Random, raw: bytes) -> bytes:
    """The message returned whole inside another one, as a gateway forwards a bounce."""
    inner = raw if rng.random() < 0.8 else raw.replace(b"\n\n", b"\nContent-Type: multipart/report\n\n", 1)
    return (
        b'From: gw@example.net\nSubject: fwd\nContent-Type: multipart/mixed; boundary="W"\n\n--W\n'
        b"Content-Type: message/rfc822\n\n" + inner + b"\n--W--\n"
    )


def htmlify(rng: random.Random, raw: bytes) -> bytes:
    """The body as a text/html part with <br> line ends and escaped angle brackets."""
    head, sep, body = raw.partition(b"\n\n")
    head = re.sub(rb"(?im)^content-type:[^\n]*(?:\n[ \t][^\n]*)*", b"Content-Type: text/html", head)
    if rng.random() < 0.5:
        body = body.replace(b"<", b"&lt;").replace(b">", b"&gt;")
    return head + b"\n\n<html><body>" + body.replace(b"\n", b"<br>\n") + b"</body></html>"


def compose(rng: random.Random, seeds: list[bytes]) -> bytes:
    """A seed, or two seeds combined the ways real files combine messages; then mutated."""
    raw = rng.choice(seeds)
    roll = rng.random()
    if roll < 0.05:
        raw = mbox_join(rng, raw, rng.choice(seeds))
    elif roll < 0.10:
        raw = wrap_rfc822(rng, raw)
    elif roll < 0.15:
        raw = htmlify(rng, raw)
    return mutate(rng, raw)
