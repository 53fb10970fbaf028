"""Self-contained HTML pages in one style: embedded base64 PNG figures and a shared style sheet.

The daily report and the evaluation report are both single files that open anywhere (a mail
attachment, an artifact store), so figures are embedded, never linked.
"""

from __future__ import annotations

import html

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.4em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: right; }
th { background: #f4f4f4; text-align: left; }
td.win { background: #d6f5d6; } td.behind { background: #ffe3c2; }
td.miss { color: #b00000; font-weight: bold; }
tr.best td { font-weight: bold; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption, .note { font-size: 0.8em; color: #555; }
ul.misses li { margin: 0.2em 0; }
"""


def figure_html(plot_id: str, alt: str, images: dict[str, str]) -> str:
    """One embedded figure with its caption; ``images`` maps plot ids to base64 PNG."""
    return (
        f"<figure><img id='{plot_id}' alt='{html.escape(alt)}' "
        f"src='data:image/png;base64,{images[plot_id]}'>"
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page with ``body`` (HTML) in the shared style."""
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
