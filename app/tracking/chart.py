"""The report's chart of opens and clicks over time, drawn here as SVG (no script, no CDN): four lines,
people's opens and clicks solid, machines' dashed, hourly (daily past DAILY_AFTER hours)."""

from collections.abc import Sequence
from datetime import datetime
from html import escape

from app.i18n import gettext as _
from app.tracking.report import Point

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40
DAILY_AFTER = 96  # hours shown one by one; past this the points are days
SERIES = (
    ("human_opens", "#1f6feb", ""),
    ("machine_opens", "#1f6feb", "4 3"),
    ("human_clicks", "#d1242f", ""),
    ("machine_clicks", "#d1242f", "4 3"),
)


def _buckets(points: Sequence[Point]) -> list[Point]:
    if len(points) <= DAILY_AFTER or not points:
        return list(points)
    days: dict[datetime, Point] = {}
    for p in points:
        day = p.at.replace(hour=0)
        d = days.setdefault(day, Point(day))
        d.human_opens += p.human_opens
        d.machine_opens += p.machine_opens
        d.human_clicks += p.human_clicks
        d.machine_clicks += p.machine_clicks
    return [days[k] for k in sorted(days)]


def svg(points: Sequence[Point]) -> str:
    labels = {
        "human_opens": _("Opens by people"),
        "machine_opens": _("Opens by machines"),
        "human_clicks": _("Clicks by people"),
        "machine_clicks": _("Clicks by machines"),
    }
    data = _buckets(points)
    title = escape(_("Opens and clicks over time"))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" '
           f'class="chart"><title>{title}</title>']  # fmt: skip
    if not data:
        out.append(f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle">{escape(_("No hits yet"))}</text>')
        return "".join(out) + "</svg>"
    top = max(1, *(getattr(p, name) for p in data for name, _c, _d in SERIES))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(data) - 1, 1)

    def xy(i: int, v: int) -> str:
        return f"{LEFT + i * step:.1f},{TOP + plot_h - plot_h * v / top:.1f}"

    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#888"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#888"/>')
    out.append(f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" font-size="11">{top}</text>')
    out.append(f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="11">0</text>')
    fmt = "%Y-%m-%d" if len(points) > DAILY_AFTER else "%m-%d %H:00"
    for i in sorted({0, len(data) - 1}):
        anchor = "start" if i == 0 else "end"
        x = LEFT + i * step
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="{anchor}" font-size="11">'
                   f"{data[i].at.strftime(fmt)} UTC</text>")  # fmt: skip
    for n, (name, color, dash) in enumerate(SERIES):
        pts = " ".join(xy(i, getattr(p, name)) for i, p in enumerate(data))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dashed} points="{pts}"/>')
        lx = LEFT + n * 165
        out.append(f'<line x1="{lx}" y1="{HEIGHT - 8}" x2="{lx + 20}" y2="{HEIGHT - 8}" stroke="{color}" '
                   f'stroke-width="2"{dashed}/><text x="{lx + 24}" y="{HEIGHT - 4}" font-size="11">'
                   f"{escape(labels[name])}</text>")  # fmt: skip
    return "".join(out) + "</svg>"
