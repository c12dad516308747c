"""Every word a page or mail shows is in the catalogue, and every language has it.

- no template has text outside ``_()`` / ``{% trans %}`` (text between tags,
  and the ``alt``, ``title``, ``placeholder`` and ``aria-label`` attributes);
- ``messages.pot`` is what the code and templates hold now (``make messages``);
- each language translates every message, keeping its placeholders.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import Environment

from idp.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
TRANSLATIONS = ROOT / "idp" / "translations"
HUMAN_ATTRIBUTES = re.compile(r'\b(?:alt|title|placeholder|aria-label)="([^"]*)"')
WORD = re.compile(r"[^\W\d_]{2,}")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")
ATTRIBUTES = re.compile(r'(?:[\w:-]+="[^"]*"?\s*)+')
IDENTIFIER = re.compile(r"[\w./:@+-]+")


def _visible_text(source: str) -> tuple[list[str], list[str]]:
    """The text a template shows outside the catalogue: (between tags, in attributes)."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # only lexed
    parts: list[str] = []
    skipping = None  # "trans", or a block that fills a class attribute
    tag: list[str] = []  # the words of the {% … %} being read
    for _line, kind, value in env.lex(source):
        if kind == "block_begin":
            tag = []
        elif kind == "name":
            tag.append(value)
        elif kind == "block_end" and tag:
            if tag[0] == "trans" or (tag[0] == "block" and tag[-1].endswith("_class")):
                skipping = tag[0]
            elif tag[0] in ("endtrans", "endblock"):
                skipping = None
        if kind == "data":
            parts.append("\0" if skipping else value)
        elif kind != "whitespace":
            parts.append("\0")
    text = "".join(parts)
    text = re.sub(r"<(script|style|code)\b.*?</\1>", "\0", text, flags=re.S | re.I)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    attributes = [v for v in HUMAN_ATTRIBUTES.findall(text) if _words(v)]
    between = re.sub(r"<[^>]*>", "\0", text)
    words = [chunk.strip() for chunk in between.split("\0") if _words(chunk)]
    return words, attributes


def _words(chunk: str) -> bool:
    """Prose, rather than attributes a macro writes, or a name from a protocol
    (``client_id``, ``/oauth/introspect``, ``CSV``, ``name@example.com``)."""
    chunk = chunk.strip()
    if not WORD.search(chunk) or ATTRIBUTES.fullmatch(chunk):
        return False
    return not (IDENTIFIER.fullmatch(chunk) and (
        re.search(r"[_/:@.]", chunk) or chunk.isupper() or re.search(r"[a-z][A-Z]", chunk)))


TEMPLATE_FILES = sorted(p for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt"))


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_show_no_text_outside_the_catalogue(path: Path):
    words, attributes = _visible_text(path.read_text())
    assert words == [], f"{path.name}: wrap in _() or {{% trans %}}: {words}"
    assert attributes == [], f"{path.name}: wrap these attributes in _(): {attributes}"


def test_the_check_finds_text_outside_the_catalogue():
    words, attributes = _visible_text(
        '<p>{{ _("Fine") }}</p><h1>Stray words</h1>{% trans %}Also fine{% endtrans %}'
        '<img alt="A logo" src="{{ x }}"><input placeholder="{{ _(\'ok\') }}">'
        "<script>let words = 1;</script><code>scope</code><td>client_id</td>")
    assert words == ["Stray words"]
    assert attributes == ["A logo"]


def _extracted() -> set[str]:
    method_map = [("idp/**.py", "python"), ("templates/**.html", "jinja2"),
                  ("templates/**.txt", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
                "lazy_gettext": None, "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords, directory_filter=_keep):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _keep(dirpath: str) -> bool:
    name = Path(dirpath).name
    return not name.startswith(".") and name not in ("node_modules", "__pycache__")


def _catalogue(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def test_the_template_catalogue_holds_every_message_of_the_code():
    pot = {m.id if isinstance(m.id, str) else m.id[0]
           for m in _catalogue(TRANSLATIONS / "messages.pot") if m.id}
    extracted = _extracted()
    missing, stale = extracted - pot, pot - extracted
    assert not missing, f"run `make messages`; not in messages.pot: {sorted(missing)[:10]}"
    assert not stale, f"run `make messages`; no longer used: {sorted(stale)[:10]}"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_every_language_translates_every_message(language: str):
    pot = [m for m in _catalogue(TRANSLATIONS / "messages.pot") if m.id]
    po = _catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    untranslated, broken = [], []
    for template in pot:
        message = po.get(template.id)
        strings = (message.string if isinstance(message.string, tuple) else (message.string,)
                   ) if message is not None else ("",)
        if message is None or message.fuzzy or not all(strings):
            untranslated.append(template.id)
            continue
        wanted = set(PLACEHOLDER.findall(template.id if isinstance(template.id, str)
                                         else template.id[0]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted and not (
                    isinstance(template.id, tuple) and
                    set(PLACEHOLDER.findall(string)) <= wanted | {"num"}):
                broken.append((template.id, string))
    assert not untranslated, (
        f"{language}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}")
    assert not broken, f"{language}: placeholders differ: {broken[:5]}"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_the_compiled_catalogue_is_the_current_one(language: str):
    """What the server reads (``.mo``, from ``make translations``) says what the ``.po`` says."""
    from babel.support import Translations

    po = _catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    compiled = Translations.load(str(TRANSLATIONS), [language])
    assert isinstance(compiled, Translations), f"no compiled {language} catalogue"
    stale = [m.id for m in po if isinstance(m.id, str) and m.id
             and compiled.gettext(m.id) != m.string]
    assert not stale, f"run `make translations`: {language} differs for {stale[:5]}"
