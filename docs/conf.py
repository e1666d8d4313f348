"""Sphinx configuration: API reference from the docstrings, notebooks with their outputs.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import shutil
import sys
import textwrap

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import rectify_jax  # noqa: E402

project = "rectify_jax"
author = "The rectify_jax authors"
copyright = "The rectify_jax authors, Apache-2.0"
release = version = rectify_jax.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"  # the notebooks are committed with their outputs
nb_merge_streams = True
autodoc_typehints = "none"  # the signatures show them; the docstrings say what they mean
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # attributes as fields: no duplicates of the members autodoc lists
add_module_names = False
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store", "api/_defaults.md"]
suppress_warnings = ["myst.header"]
html_theme = "sphinx_book_theme"
html_title = f"rectify_jax {release}"
html_theme_options = {"show_toc_level": 2, "navigation_with_keys": False}
html_static_path = ["_static"]
html_css_files = ["custom.css"]  # code and long names wrap in the narrow column
maximum_signature_line_length = 88  # longer signatures: one parameter per line
toc_object_entries_show_parents = "hide"  # contents show `apply`, not `Module.apply`

# --------------------------------------------------------------------------------------
# Generated pages: the notebooks (copied from examples/) and one API page per module,
# listing every public name of its ``__all__``, so nothing public goes undocumented.

NOTEBOOKS = sorted((ROOT / "examples").glob("[0-9][0-9]_*.ipynb"))
API = {
    "rectify_jax": "Functions and units",
    "rectify_jax.linen": "Flax linen modules",
    "rectify_jax.nnx": "Flax NNX modules",
    "rectify_jax.equinox": "Equinox modules",
    "rectify_jax.diagnostics": "Diagnostics",
    "rectify_jax.schedules": "Schedules",
    "rectify_jax.initializers": "Initialisers",
    "rectify_jax.noise": "Noise generators",
    "rectify_jax.plotting": "Plotting",
}


def _data_doc(module, name: str) -> str:
    """The attribute docstring of a public constant, from wherever it is defined.

    A re-exported constant (a dict, a unit) has no ``__doc__`` of its own: autodoc would
    show its type's. Its ``#:`` comment or the string after its assignment is found by
    reading the source of the public module and of the package's private modules.
    """
    from sphinx.pycode import ModuleAnalyzer

    private = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "rectify_jax").rglob("*.py")
        if p.name != "__init__.py" and any(part.startswith("_") for part in p.parts[-2:])
    )
    candidates = [module.__name__, *private]
    for modname in candidates:
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except Exception:  # noqa: BLE001 - a module without source: try the next
            continue
        if ("", name) in docs:
            return "\n".join(f"   {line}" for line in docs[("", name)]).rstrip()
    raise RuntimeError(f"docs: public constant {module.__name__}.{name} has no docstring")


def _is_module(module, name: str) -> bool:
    return isinstance(getattr(module, name), type(sys))


def _api_page(module_name: str, title: str) -> str:
    module = importlib.import_module(module_name)
    lines = [f"# {title}", "", f"`{module_name}`", "", "```{eval-rst}"]
    lines += [f".. automodule:: {module_name}", "   :no-members:", ""]
    lines += [f".. currentmodule:: {module_name}", ""]
    names = [n for n in sorted(module.__all__, key=str.lower) if not _is_module(module, n)]
    lines += [".. autosummary::", "   :nosignatures:", "", *(f"   {name}" for name in names), ""]
    for name in sorted(module.__all__, key=str.lower):
        obj = getattr(module, name)
        if isinstance(obj, rectify_jax.NoisyUnit) or not callable(obj):
            if isinstance(obj, type(sys)):
                continue  # submodules have their own page
            lines += [f".. py:data:: {name}", "", _data_doc(module, name), ""]
        elif isinstance(obj, type):
            lines += [f".. autoclass:: {name}", "   :members:", "   :exclude-members: set", ""]
        else:
            lines += [f".. autofunction:: {name}", ""]
    lines += ["```", ""]
    return "\n".join(lines)


def _defaults_table() -> str:
    """The noisy units' defaults, read from the units themselves (the one place they live)."""
    rows = [
        "| unit | `alpha` | `c` | `input_s` (NANI) | `saturated_s` (NANIS) |",
        "|---|---|---|---|---|",
    ]
    for name in ("HARD_TANH_UNIT", "HARD_SIGMOID_UNIT"):
        u = getattr(rectify_jax, name)
        rows.append(
            f"| `{name}` (`{u.name}`) | {u.alpha} | {u.c} | {u.input_s} | {u.saturated_s} |"
        )
    return "\n".join(rows) + "\n"


def _generate(app) -> None:
    (DOCS / "notebooks").mkdir(exist_ok=True)
    for nb in NOTEBOOKS:
        shutil.copyfile(nb, DOCS / "notebooks" / nb.name)
    (DOCS / "api").mkdir(exist_ok=True)
    defaults = DOCS / "api" / "_defaults.md"
    if not defaults.exists() or defaults.read_text() != _defaults_table():
        defaults.write_text(_defaults_table())
    for module_name, title in API.items():
        page = DOCS / "api" / f"{module_name}.md"
        text = _api_page(module_name, title)
        if not page.exists() or page.read_text() != text:
            page.write_text(text)


def _constructor_signature(app, what, name, obj, options, signature, return_annotation):
    """NNX modules: flax's metaclass hides ``__init__`` behind ``(*args, **kwargs)``; show the
    constructor's own signature, with its real defaults."""
    if what == "class" and signature in ("(*args, **kwargs)", "(*args: Any, **kwargs: Any)"):
        params = list(inspect.signature(obj.__init__).parameters.values())[1:]
        plain = [p.replace(annotation=inspect.Parameter.empty) for p in params]
        return str(inspect.Signature(plain)), None
    return None


def _constant_summary(app, what, name, obj, options, lines):
    """A public constant in an autosummary table: its own docstring (:func:`_data_doc`), not
    the docstring of its type (``dict``, ``NoisyUnit``) that autodoc would find."""
    module_name, _, short = name.rpartition(".")
    if module_name not in API or what not in ("data", "attribute"):
        return
    module = importlib.import_module(module_name)
    if short in getattr(module, "__all__", ()) and not _is_module(module, short):
        lines[:] = textwrap.dedent(_data_doc(module, short)).splitlines()


def setup(app):
    app.connect("builder-inited", _generate)
    app.connect("autodoc-process-docstring", _constant_summary)
    app.connect("autodoc-process-signature", _constructor_signature)
