"""The latency-over-time chart: a small hand-written SVG (no plotting library needed).

Top panel: p99 (solid) and p50 (dashed) latency per route per second, on a log scale. Bottom panel:
requests per second completed and failed. The warm-up, excluded from the figures, is shaded.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

COLORS = {
    "all": "#222222",
    "home": "#1f77b4",
    "user_timeline": "#2ca02c",
    "post": "#d62728",
    "like": "#9467bd",
    "follow": "#ff7f0e",
    "livez": "#8c564b",
}
W, H = 900, 560
LEFT, RIGHT = 70, 170
TOP_Y0, TOP_Y1 = 50, 340  # latency panel
BOT_Y0, BOT_Y1 = 390, 510  # throughput panel


def latency_chart(
    series: dict[str, list[dict[str, float]]],
    *,
    title: str,
    warmup_s: float = 0.0,
    bucket_s: float = 1.0,
) -> str:
    """An SVG document; ``series`` as produced by :func:`twitterclone_bench.stats.time_series`."""
    routes = [r for r in COLORS if r in series] + sorted(r for r in series if r not in COLORS)
    points = [p for r in routes for p in series[r]]
    t_max = max((p["t"] + bucket_s for p in points), default=1.0)
    lat = [v for p in points for v in (p["p50_ms"], p["p99_ms"]) if v == v and v > 0]
    lo = 10 ** math.floor(math.log10(max(0.1, min(lat, default=1.0))))
    hi = 10 ** math.ceil(math.log10(max(lat, default=10.0) * 1.05))
    hi = max(hi, lo * 100)

    def x(t: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * t / t_max

    def y_lat(ms: float) -> float:
        v = min(max(ms, lo), hi)
        return TOP_Y1 - (TOP_Y1 - TOP_Y0) * (math.log10(v) - math.log10(lo)) / (
            math.log10(hi) - math.log10(lo)
        )

    rps_max = max((p["count"] / bucket_s for p in series.get("all", [])), default=1.0) * 1.1 or 1.0

    def y_rps(rps: float) -> float:
        return BOT_Y1 - (BOT_Y1 - BOT_Y0) * rps / rps_max

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2:.0f}" y="24" text-anchor="middle" font-size="15" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    if warmup_s > 0:
        for y0, y1 in ((TOP_Y0, TOP_Y1), (BOT_Y0, BOT_Y1)):
            out.append(
                f'<rect x="{LEFT}" y="{y0}" width="{x(warmup_s) - LEFT:.1f}" height="{y1 - y0}" '
                'fill="#eeeeee"/>'
            )
        out.append(f'<text x="{LEFT + 4}" y="{TOP_Y0 + 14}" fill="#777">warm-up</text>')
    # latency grid: 1-2-5 ticks per decade
    decade = lo
    while decade <= hi * 1.001:
        for m in (1, 2, 5):
            v = decade * m
            if lo <= v <= hi * 1.001:
                yy = y_lat(v)
                major = m == 1
                out.append(
                    f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{W - RIGHT}" y2="{yy:.1f}" '
                    f'stroke="{"#cccccc" if major else "#eeeeee"}"/>'
                )
                out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{_fmt_ms(v)}</text>')
        decade *= 10
    out.append(
        f'<text transform="translate(18 {(TOP_Y0 + TOP_Y1) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        "latency (ms, log scale)</text>"
    )
    # time axis ticks (shared)
    step = _nice_step(t_max / 10)
    t = 0.0
    while t <= t_max + 1e-9:
        xx = x(t)
        out.append(f'<line x1="{xx:.1f}" y1="{TOP_Y1}" x2="{xx:.1f}" y2="{TOP_Y1 + 4}" stroke="#333"/>')
        out.append(f'<line x1="{xx:.1f}" y1="{BOT_Y1}" x2="{xx:.1f}" y2="{BOT_Y1 + 4}" stroke="#333"/>')
        out.append(f'<text x="{xx:.1f}" y="{BOT_Y1 + 17}" text-anchor="middle">{t:g}</text>')
        t += step
    out.append(
        f'<text x="{(LEFT + W - RIGHT) / 2:.0f}" y="{BOT_Y1 + 36}" text-anchor="middle">'
        "time since the phase started (s, by scheduled send time)</text>"
    )
    for y0, y1 in ((TOP_Y0, TOP_Y1), (BOT_Y0, BOT_Y1)):
        out.append(
            f'<rect x="{LEFT}" y="{y0}" width="{W - LEFT - RIGHT}" height="{y1 - y0}" '
            'fill="none" stroke="#333"/>'
        )
    # latency lines
    for route in routes:
        color = COLORS.get(route, "#555555")
        for key, dash, width in (("p99_ms", "", 1.8), ("p50_ms", ' stroke-dasharray="4 3"', 1.1)):
            pts = " ".join(
                f"{x(p['t'] + bucket_s / 2):.1f},{y_lat(p[key]):.1f}"
                for p in series[route]
                if p[key] == p[key]
            )
            if pts:
                out.append(
                    f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>'
                )
            if key == "p99_ms" and len(series[route]) < 3:  # too few points for a visible line
                for p in series[route]:
                    out.append(
                        f'<circle cx="{x(p["t"] + bucket_s / 2):.1f}" cy="{y_lat(p[key]):.1f}" r="3" '
                        f'fill="{color}"/>'
                    )
    # throughput panel
    for frac in (0.0, 0.5, 1.0):
        v = rps_max / 1.1 * frac
        yy = y_rps(v)
        out.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{W - RIGHT}" y2="{yy:.1f}" stroke="#eeeeee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    out.append(
        f'<text transform="translate(18 {(BOT_Y0 + BOT_Y1) / 2:.0f}) rotate(-90)" text-anchor="middle">'
        "req/s</text>"
    )
    all_pts = series.get("all", [])
    ok = " ".join(
        f"{x(p['t'] + bucket_s / 2):.1f},{y_rps((p['count'] - p['errors']) / bucket_s):.1f}" for p in all_pts
    )
    err = " ".join(f"{x(p['t'] + bucket_s / 2):.1f},{y_rps(p['errors'] / bucket_s):.1f}" for p in all_pts)
    if ok:
        out.append(f'<polyline points="{ok}" fill="none" stroke="#222222" stroke-width="1.5"/>')
        out.append(f'<polyline points="{err}" fill="none" stroke="#d62728" stroke-width="1.5"/>')
    # legend
    lx, ly = W - RIGHT + 15, TOP_Y0 + 5
    for route in routes:
        color = COLORS.get(route, "#555555")
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 28}" y="{ly + 4}">{escape(route)}</text>')
        ly += 18
    ly += 8
    out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="#555" stroke-width="1.8"/>')
    out.append(f'<text x="{lx + 28}" y="{ly + 4}">p99</text>')
    ly += 18
    out.append(
        f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="#555" stroke-width="1.1" '
        'stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{lx + 28}" y="{ly + 4}">p50</text>')
    ly = BOT_Y0 + 5
    for label, color in (("completed ok", "#222222"), ("errors", "#d62728")):
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 22}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 28}" y="{ly + 4}">{label}</text>')
        ly += 18
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _fmt_ms(v: float) -> str:
    if v >= 1000:
        return f"{v / 1000:g} s"
    return f"{v:g}"


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)
