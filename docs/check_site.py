"""Checks that the built documentation renders what it should; exits 1 (and says what is
wrong) when a page is missing or empty.

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python docs/check_site.py docs/_build/html

Checked: every page of the table of contents exists and has a title and body text; the API
pages open with a summary table (autosummary) of every public name of their module's
``__all__`` and have an entry (an HTML anchor) for each, with a ``[source]`` link for every
function and class;
the mathematics page carries rendered-math markup and loads MathJax; each notebook page
starts with its content (the install cell is left out) and shows at least one PNG
figure where its notebook has one; the reproductions page has one title and shows the
report's figures. A real browser check (headless Chromium screenshots) is described in
``docs/README.md``.
"""

from __future__ import annotations

import html.parser
import importlib
import json
import pathlib
import re
import sys

DOCS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.imgs, self.scripts, self.title, self.text = set(), [], [], "", []
        self._in_title = False
        self.math = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "title":
            self._in_title = True
        if "math" in (a.get("class") or "").split():
            self.math += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif data.strip():
            self.text.append(data.strip())


def parse(path: pathlib.Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def check(site: pathlib.Path) -> list[str]:
    sys.path.insert(0, str(DOCS))
    import conf  # the docs' own list of API modules and notebooks

    problems = []

    def page(rel: str) -> _Page | None:
        path = site / rel
        if not path.exists():
            problems.append(f"{rel}: missing")
            return None
        p = parse(path)
        if not p.title.strip() or sum(len(t) for t in p.text) < 200:
            problems.append(f"{rel}: no title or almost no text")
        return p

    for rel in ("index.html", "conventions.html", "adding_an_activation.html"):
        page(rel)
    math = page("mathematics.html")
    if math is not None:
        if math.math < 10:
            problems.append(f"mathematics.html: only {math.math} math elements")
        if not any("mathjax" in s.lower() for s in math.scripts):
            problems.append("mathematics.html: MathJax is not loaded")
    for module_name in conf.API:
        p = page(f"api/{module_name}.html")
        if p is None:
            continue
        module = importlib.import_module(module_name)
        text = (site / f"api/{module_name}.html").read_text(encoding="utf-8")
        summary, _, entries = text.partition('<dt class="sig sig-object py"')
        summary = summary[summary.find('class="autosummary') :]
        objects = dict(
            re.findall(r'<dt class="sig sig-object py" id="([^"]+)">(.*?)</dt>', text, re.S)
        )
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type(sys)):
                continue
            full = f"{module_name}.{name}"
            if full not in p.ids:
                problems.append(f"api/{module_name}.html: no entry for {name}")
            if f'href="#{full}"' not in summary:
                problems.append(f"api/{module_name}.html: {name} is not in the summary table")
            code = isinstance(obj, type) or (
                callable(obj) and not isinstance(obj, conf.rectify_jax.NoisyUnit)
            )
            if code and "viewcode-link" not in objects.get(full, ""):
                problems.append(f"api/{module_name}.html: {name} has no [source] link")
    for nb_path in conf.NOTEBOOKS:
        p = page(f"notebooks/{nb_path.stem}.html")
        nb = json.loads(nb_path.read_text())
        has_png = any(
            "image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", [])
        )
        if p is not None and any("RECTIFY_JAX_SOURCE" in t for t in p.text):
            problems.append(f"notebooks/{nb_path.stem}.html: shows the install cell")
        if (
            p is not None
            and has_png
            and not any(".png" in s or "data:image/png" in s for s in p.imgs)
        ):
            problems.append(f"notebooks/{nb_path.stem}.html: its figures are not shown")
    report = page("reproductions.html")
    if report is not None and sum(".png" in s for s in report.imgs) < 5:
        problems.append("reproductions.html: the report's figures are not shown")
    if report is not None:
        # one title: the page's, not the page's and then the report's own
        text = (site / "reproductions.html").read_text(encoding="utf-8")
        article = text[text.find("<article") :]
        titles = re.findall(r"<h[12][^>]*>(.*?)<", article, re.S)
        if sum("reproductions" in t.lower() for t in titles) != 1:
            problems.append(f"reproductions.html: its title is repeated ({titles[:3]})")
    return problems


if __name__ == "__main__":
    site = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else DOCS / "_build" / "html")
    found = check(site)
    for line in found:
        print(f"docs: {line}", file=sys.stderr)
    print(f"docs: {'FAILED' if found else 'ok'} ({site})")
    sys.exit(1 if found else 0)
