"""A bar chart of a protected table, drawn on the server as SVG (pygal) from the released cells only.

Margins (a null group value) are left out, suppressed cells are gaps, never zeros, and nothing is
recomputed: the chart can show no more than the table beside it.
"""

from __future__ import annotations

from typing import Any

import pygal
from pygal.style import Style

MAX_BARS = 60
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#0b0c0c",
    foreground_strong="#0b0c0c",
    foreground_subtle="#505a5f",
    font_family="Arial, Helvetica, sans-serif",
    colors=("#1d70b8", "#f47738", "#00703c", "#912b88", "#d4351c", "#5694ca", "#85994b", "#6f72af"),
)


def _label(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else str(value)


def bar_chart(rows: list[dict[str, Any]], group_by: list[str], title: str) -> str | None:
    """SVG markup, or None when the table has no shape a bar chart shows honestly (0 or 3+ dimensions)."""
    if not 1 <= len(group_by) <= 2:
        return None
    cells = [r for r in rows if all(r.get(g) is not None for g in group_by)]
    if not cells or len(cells) > MAX_BARS:
        return None
    first = group_by[0]
    categories = list(dict.fromkeys(_label(r[first]) for r in cells))
    chart = pygal.Bar(
        style=STYLE,
        width=900,
        height=420,
        title=title,
        x_title=first.replace("_", " "),
        x_label_rotation=30 if len(categories) > 6 else 0,
        show_legend=len(group_by) == 2,
        legend_at_bottom=True,
        print_values=False,
        js=[],  # no script from a CDN: the page works offline and shows the SVG as drawn
        disable_xml_declaration=True,
        explicit_size=True,
        no_data_text="every cell is suppressed",
    )
    chart.x_labels = categories
    if len(group_by) == 1:
        by_cat = {_label(r[first]): r["value"] for r in cells}
        chart.add(title, [by_cat.get(c) for c in categories])
    else:
        second = group_by[1]
        series = list(dict.fromkeys(_label(r[second]) for r in cells))
        table = {(_label(r[first]), _label(r[second])): r["value"] for r in cells}
        for s in series:
            chart.add(f"{second.replace('_', ' ')}: {s}", [table.get((c, s)) for c in categories])
    return str(chart.render(is_unicode=True))
