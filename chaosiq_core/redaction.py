"""Remove secrets from anything before it leaves the machine.

What is a secret value:

* every value of the experiment's ``secrets`` block that is written inline,
  and every loaded secret value;
* configuration values loaded from ``env`` or ``vault`` sources;
* the tokens of the settings' ``auths``;
* every string of the experiment that Chaos Toolkit fills in from a secret
  too short to be found on its own (``"title": "pin ${pin}"``, see
  :func:`_filled_in`).

Such a value is replaced by :data:`MARKER` wherever it appears, in any of the
forms it commonly takes on the way out: as is, JSON- or Python-repr-escaped
(up to four levels deep), percent- or form-encoded, HTML-escaped, and
base64-encoded (see :func:`_value_pattern` and :func:`_base64_texts`). A value
shorter than :data:`MIN_SECRET_LEN` characters is replaced only where a whole
string (or number) is that value, or where it stands between quotes
(``pin '987'``): inside other text it would match by chance.
``docs/publisher.md`` ("What is redacted") lists what is and is not caught.

The value of any key whose name looks sensitive (``password``, ``token``,
``secret``, ``api_key``, ... plus a user list: option
``controls.chaosiq-cloud.options.redaction.keys``) is replaced too. The
experiment's local path (``extensions[chaosiq].experiment_path``) is dropped.
Documents are copied, never changed in place.

Why hand-written: no library knows the forms a value takes in an exception
message or a URL, and the publisher runs the test below for every event, so
it is built for that: each value's forms are one regular expression, run only
when a piece of the value that no encoding changes (its *anchor*) is in the
text, which a plain substring test rules out in nanoseconds.
"""

from __future__ import annotations

import base64
import re
import string
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chaosiq_core.serialize import dumps, loads
from chaosiq_core.settings import options

MARKER = "***REDACTED***"
DEFAULT_KEYS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "private_key",
    "authorization",
    "credential",
    "client_secret",
    "cookie",
)
MIN_SECRET_LEN = 4
"""Shorter values are replaced only as whole strings or between quotes."""
MIN_BASE64_INNER = 6
"""Base64 characters a value must fix on its own to be looked for inside a longer base64 text."""
_REFERENCE_KEYS = {"type", "key", "path", "env_var_type", "default"}

# ------------------------------------------------------------------ the forms of a value

_STABLE = frozenset(string.ascii_letters + string.digits + "-._")
"""Characters that no encoding below changes (URL-unreserved, never escaped): the anchors."""
_ESC = r"(?:\\|%5[cC])"
"""One escaping backslash, as is or percent-encoded (an escaped text put in a URL)."""
_MAX_DEPTH = 16
"""Backslashes that may escape one character: four levels of escaping (1, 2, 4, 8, 16)."""
_NAMED_ESCAPES = {"\n": "n", "\r": "r", "\t": "t", "\b": "b", "\f": "f", "\v": "v", "\0": "0"}
_HTML = {
    "&": ("&amp;", "&#38;", "&#x26;"),
    "<": ("&lt;", "&#60;", "&#x3c;", "&#x3C;"),
    ">": ("&gt;", "&#62;", "&#x3e;", "&#x3E;"),
    '"': ("&quot;", "&#34;", "&#x22;"),
    "'": ("&#39;", "&#x27;", "&apos;"),
}
_QUOTE = rf"{_ESC}{{0,{_MAX_DEPTH}}}(?:'|\"|%2[27]|&quot;|&#34;|&#x22;|&#39;|&#x27;|&apos;)"
"""A quote around a short value, in the same forms as a quote inside a value."""
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _hex(n: int, width: int) -> str:
    """``n`` in hexadecimal, either case."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in f"{n:0{width}x}")


def _percent(ch: str) -> str:
    return "".join("%" + _hex(b, 2) for b in ch.encode("utf-8", "surrogatepass"))


def _char(ch: str, first: bool) -> str:
    """A pattern for one character of a value, in every form it takes (see the module doc)."""
    if ch in _STABLE:
        return ch
    if ch == " ":
        return r"(?: |%20|\+)"
    cp = ord(ch)
    esc = "" if first else f"{_ESC}{{0,{_MAX_DEPTH}}}"
    if 0x20 < cp < 0x7F:  # printable punctuation: may be escaped, percent-encoded, HTML-escaped
        forms = [re.escape(ch), _percent(ch), *(re.escape(h) for h in _HTML.get(ch, ()))]
        code = f"{_ESC}{{1,{_MAX_DEPTH}}}(?:u{_hex(cp, 4)}|x{_hex(cp, 2)})"  # Go's JSON writes & as \u0026
        return f"(?:{esc}(?:{'|'.join(forms)})|{code})"
    escapes = [_NAMED_ESCAPES[ch]] if ch in _NAMED_ESCAPES else []
    if cp <= 0xFF:
        escapes.append("x" + _hex(cp, 2))
    if cp <= 0xFFFF:
        escapes.append("u" + _hex(cp, 4))
    else:  # JSON writes it as a surrogate pair, Python as \U0001f600
        hi, lo = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
        escapes += ["U" + _hex(cp, 8), f"u{_hex(hi, 4)}{_ESC}{{1,{_MAX_DEPTH}}}u{_hex(lo, 4)}"]
    forms = [re.escape(ch), _percent(ch), f"{_ESC}{{1,{_MAX_DEPTH}}}(?:{'|'.join(escapes)})"]
    if cp > 0x7F:
        forms += [f"&#{cp};", f"&#[xX]{_hex(cp, 1)};"]
    return f"(?:{'|'.join(forms)})"


def _value_pattern(value: str) -> str:
    """A pattern matching ``value`` with each character as itself or in any of its forms:

    * escaped with backslashes, up to four levels deep (JSON, ``repr()``, a repr inside JSON:
      ``\\`` is ``\\\\``, ``"`` is ``\\"``, ``é`` is ``\\u00e9`` or ``\\xe9``, a newline ``\\n``);
    * percent-encoded (UTF-8, either case of hex digits; a space also as ``+``: form encoding),
      including a backslash escape then percent-encoded (``%5C%27``);
    * HTML-escaped (``&amp;``, ``&quot;``, ``&#39;``, ``&#233;``...).

    Forms may mix within one value. A run of backslashes in the value is one piece of the
    pattern, with bounded repetitions, so no text makes the search backtrack for long.
    """
    parts: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            j = i
            while j < len(value) and value[j] == "\\":
                j += 1
            k = j - i
            parts.append(f"{_ESC}{{{k}}}" if i == 0 else f"{_ESC}{{{k},{k * _MAX_DEPTH}}}")
            i = j
        else:
            parts.append(_char(value[i], first=i == 0))
            i += 1
    return f"(?:{re.escape(value)}|{''.join(parts)})"


def _compiled(groups: dict[str, list[str]]) -> list[tuple[str, re.Pattern[str]]]:
    """One alternation per anchor: the anchor is a cheap `in` test before the regex runs."""
    return [(anchor, re.compile("|".join(patterns))) for anchor, patterns in groups.items()]


def _anchor(text: str, allowed: frozenset[str] = _STABLE, avoid: str = "") -> str:
    """The longest run of ``allowed`` characters in ``text``: every form of ``text`` holds it.

    A run that is in ``avoid`` (the template a value was filled into, which the
    experiment holds anyway) is taken only when there is no other.
    """
    runs = re.findall(f"[{re.escape(''.join(sorted(allowed)))}]+", text)
    runs.sort(key=lambda r: (r not in avoid if avoid else True, len(r)), reverse=True)
    return runs[0] if runs else ""


_ALNUM = frozenset(string.ascii_letters + string.digits)
_URLSAFE = str.maketrans("+/", "-_")


def _base64_texts(value: str) -> Iterator[tuple[str, str]]:
    """``(base64 text, optional tail)`` of ``value``'s UTF-8 bytes, standard and URL-safe alphabets.

    The value alone: the characters its bytes fix, then (optional) the last partial
    character and padding. Inside a longer base64 text (``user:value`` in a Basic
    authorization header), starting 1 or 2 bytes into a group: the characters its bytes
    fix alone, when there are at least :data:`MIN_BASE64_INNER`.
    """
    raw = value.encode("utf-8", "surrogatepass")
    for offset in (0, 1, 2):
        encoded = base64.b64encode(bytes(offset) + raw).decode().rstrip("=")
        start, end = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
        if offset and end - start < MIN_BASE64_INNER:
            continue
        fixed, tail = encoded[start:end], encoded[end:] if offset == 0 else ""
        for alphabet in (None, _URLSAFE):
            if alphabet is None:
                yield fixed, tail
            else:
                yield fixed.translate(alphabet), tail.translate(alphabet)


def _base64_pattern(fixed: str, tail: str) -> str:
    pattern = "".join(_char(ch, first=i == 0) for i, ch in enumerate(fixed))
    if tail:
        pattern += f"(?:{''.join(_char(ch, False) for ch in tail)}(?:=|%3[dD]){{0,2}})?"
    return pattern


class Redactor:
    """Replaces secret values (in their common forms) and sensitive keys in JSON-like documents."""

    def __init__(
        self,
        values: Iterable[Any] = (),
        keys: Iterable[str] = DEFAULT_KEYS,
        *,
        filled_in: Mapping[str, str] | None = None,
    ) -> None:
        """``values``: the secret values (strings or numbers); ``filled_in``: strings of the
        experiment filled in from a secret, each mapped to its template (``"pin ${pin}"``)."""
        texts: dict[str, str] = {}
        """Each value, and the text its anchor must not come from (what documents hold anyway)."""
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                v = str(v)
            if isinstance(v, str) and v:
                texts[v] = ""
        for v, template in (filled_in or {}).items():
            if v and v not in texts:
                texts[v] = template
        subs: dict[str, list[str]] = {}
        """Text patterns (what is replaced inside strings), grouped by the anchor they all hold."""
        wholes: dict[str, list[str]] = {}
        """Patterns of short values, matched against whole strings."""
        checks: dict[str, list[str]] = {}
        """Patterns that only flag JSON text as needing the walk (numbers as JSON values)."""
        for text in sorted(texts, key=len, reverse=True):
            pattern, anchor = _value_pattern(text), _anchor(text, avoid=texts[text])
            if len(text) >= MIN_SECRET_LEN:
                subs.setdefault(anchor, []).append(pattern)
                for fixed, tail in _base64_texts(text):
                    subs.setdefault(_anchor(fixed, _ALNUM), []).append(_base64_pattern(fixed, tail))
            else:
                wholes.setdefault(anchor, []).append(pattern)
                subs.setdefault(anchor, []).append(_QUOTE + pattern + _QUOTE)
            if _JSON_NUMBER.fullmatch(text):  # a number field with this value, in JSON text
                checks.setdefault(text, []).append(rf"[:,\[]\s*{re.escape(text)}\s*[,\]}}]")
        self._subs = _compiled(subs)
        self._wholes = _compiled(wholes)
        self._checks = self._subs + _compiled(checks)
        self._whole_texts = frozenset(texts)
        self._keys = tuple(k.lower() for k in keys)
        self._key_cache: dict[str, bool] = {}

    @classmethod
    def for_run(
        cls,
        experiment: dict[str, Any] | None,
        *,
        secrets: dict[str, Any] | None = None,
        configuration: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Redactor:
        """Collect the secret values of a run: loaded secrets, env/vault configuration, tokens,
        and the experiment's strings Chaos Toolkit fills in from them; the sensitive keys are
        the default ones and the settings' ``redaction.keys``."""
        experiment = experiment or {}
        values: list[Any] = []
        _leaves(secrets or {}, values)
        inline = experiment.get("secrets") or {}
        _leaves(inline, values, skip_references=True)
        names: set[str] = set()
        for scope in (secrets or {}, inline):
            if isinstance(scope, dict):
                names.update(n for s in scope.values() if isinstance(s, dict) for n in s)
        declared = experiment.get("configuration") or {}
        for name, decl in declared.items() if isinstance(declared, dict) else ():
            if isinstance(decl, dict) and decl.get("type") in ("env", "vault"):
                names.add(name)
                loaded = (configuration or {}).get(name)
                if loaded is not None:
                    values.append(loaded)
        for entry in ((settings or {}).get("auths") or {}).values():
            if isinstance(entry, dict) and entry.get("value"):
                values.append(str(entry["value"]))
        scopes = secrets if secrets is not None else _literal_scopes(inline)
        filled_in = dict(_filled_in(experiment, names, configuration or {}, scopes))
        extra_keys = options(settings or {}, "redaction").get("keys") or ()
        return cls(values, (*DEFAULT_KEYS, *extra_keys), filled_in=filled_in)

    def is_sensitive_key(self, key: str) -> bool:
        hit = self._key_cache.get(key)
        if hit is None:
            k = key.lower()
            hit = any(s in k for s in self._keys)
            if len(self._key_cache) < 4096:
                self._key_cache[key] = hit
        return hit

    def encode(self, doc: Any) -> tuple[str, bool]:
        """``(JSON text of self(doc), clean)``; *clean*: nothing needed redacting (it is ``dumps(doc)``).

        ``doc`` is encoded once; when its text holds no sensitive key name, no
        ``experiment_path`` and no form of a secret value, that text is the answer.
        Otherwise the full walk runs.
        """
        text = dumps(doc)
        if self.is_clean(text):
            return text, True
        return dumps(self._walk(loads(text), *self._active(text))), False

    def is_clean(self, text: str) -> bool:
        """True when the JSON ``text`` surely needs no redaction (what :meth:`encode` tests)."""
        return not self._needs_walk(text)

    def _needs_walk(self, text: str) -> bool:
        """True when ``text`` holds a sensitive key name, ``experiment_path`` or a form of a secret.

        The value test may say True for a text the walk leaves as it is (a number
        inside a string, a value split across two JSON strings), never False for
        one it would change. Loops, not any(...): no generator per call (run for every event).
        """
        low = text.lower()
        if '"experiment_path"' in low:
            return True
        for key in self._keys:
            if key in low:
                return True
        for anchor, pattern in self._checks:  # noqa: SIM110  (a loop: no generator per event)
            if anchor in text and pattern.search(text) is not None:
                return True
        return False

    def redact_text(self, text: str) -> str:
        """``text`` with every form of every secret value replaced by :data:`MARKER`."""
        return self._text(text, *self._active(text))

    def _active(self, text: str) -> tuple[list[Any], list[Any]]:
        """The text and whole-string patterns whose anchor is in ``text``: the only ones that
        can match in ``text`` or, when it is a document's JSON text, in any of its strings."""
        return [s for s in self._subs if s[0] in text], [w for w in self._wholes if w[0] in text]

    def _text(self, text: str, subs: list[Any], wholes: list[Any]) -> str:
        if text in self._whole_texts:
            return MARKER
        for anchor, pattern in wholes:
            if anchor in text and pattern.fullmatch(text):
                return MARKER
        spans: list[tuple[int, int]] = []
        for anchor, pattern in subs:
            if anchor in text:
                spans.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
        if not spans:
            return text
        spans.sort()
        out, pos = [], 0
        for start, end in spans:  # overlapping matches (two secrets sharing text) become one
            if start < pos:
                pos = max(pos, end)
                continue
            out += [text[pos:start], MARKER]
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def __call__(self, doc: Any) -> Any:
        """A redacted, JSON-safe copy of ``doc``."""
        text = dumps(doc)
        return self._walk(loads(text), *self._active(text))

    def _walk(self, node: Any, subs: list[Any], wholes: list[Any]) -> Any:
        """A redacted copy of ``node``; ``subs``, ``wholes``: the patterns active in its text."""
        plain = not subs and not wholes  # then a string changes only if it is a secret value whole
        whole = self._whole_texts
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                if k == "experiment_path":
                    continue
                key = k if plain and k not in whole else self._text(k, subs, wholes)  # keys: JSON's, str
                if type(v) is str:
                    if v and self.is_sensitive_key(k):
                        out[key] = MARKER
                    else:
                        out[key] = v if plain and v not in whole else self._text(v, subs, wholes)
                elif k == "secrets" and isinstance(v, dict):
                    out[key] = self._secrets_block(v)
                elif v is not None and not isinstance(v, (dict, list)) and self.is_sensitive_key(k):
                    out[key] = MARKER
                else:
                    out[key] = self._walk(v, subs, wholes)
            return out
        if isinstance(node, list):
            return [self._walk(v, subs, wholes) for v in node]
        if isinstance(node, str):
            return node if plain and node not in whole else self._text(node, subs, wholes)
        if isinstance(node, (int, float)) and not isinstance(node, bool) and str(node) in whole:
            return MARKER
        return node

    def _secrets_block(self, block: dict[str, Any]) -> Any:
        """Keep the shape and references of a ``secrets`` block, drop literal values."""
        out: dict[str, Any] = {}
        for k, v in block.items():
            if isinstance(v, dict):
                if v.get("type") in ("env", "vault"):
                    out[k] = {rk: rv for rk, rv in v.items() if rk in _REFERENCE_KEYS and rk != "default"}
                else:
                    out[k] = self._secrets_block(v)
            elif isinstance(v, list):
                out[k] = [MARKER for _ in v]
            else:
                out[k] = MARKER
        return out


def _leaves(node: Any, into: list[Any], skip_references: bool = False) -> None:
    if isinstance(node, dict):
        if skip_references and node.get("type") in ("env", "vault"):
            return
        for v in node.values():
            _leaves(v, into, skip_references)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _leaves(v, into, skip_references)
    elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
        into.append(node)


def _literal_scopes(inline: Any) -> dict[str, Any]:
    """The inline values of an experiment's ``secrets`` block (when no loaded secrets are known)."""
    if not isinstance(inline, dict):
        return {}
    return {
        scope: {n: v for n, v in block.items() if not (isinstance(v, dict) and v.get("type"))}
        for scope, block in inline.items()
        if isinstance(block, dict)
    }


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k not in ("secrets", "configuration"):
                yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str) and "$" in node:
        yield node


def _filled_in(
    experiment: dict[str, Any], names: set[str], configuration: dict[str, Any], scopes: Any
) -> Iterator[tuple[str, str]]:
    """``(filled in, template)``: the experiment's strings that Chaos Toolkit fills in
    (configuration first, then every secret scope) with a secret whose own forms do not
    cover them: one shorter than :data:`MIN_SECRET_LEN`, or too short to be found inside
    a longer base64 text (``user:${password}`` of a Basic authorization header).
    A longer secret in such a string is replaced wherever it is, on its own."""
    if not names:
        return
    mapping = ChainMap(configuration, *(s for s in (scopes or {}).values() if isinstance(s, dict)))
    for template in _strings(experiment):
        used = {m.group("braced") or m.group("named") for m in string.Template.pattern.finditer(template)}
        values = {n: str(mapping[n]) for n in used if n and n in mapping}
        if not any(n in names and _too_short(v) for n, v in values.items()):
            continue
        try:
            yield string.Template(template).safe_substitute(values), template
        except ValueError:  # a malformed placeholder: Chaos Toolkit leaves such a string as it is
            continue


def _too_short(value: str) -> bool:
    """``value`` is not found everywhere by its own forms (see :func:`_filled_in`)."""
    if len(value) < MIN_SECRET_LEN:
        return True
    return sum(1 for _ in _base64_texts(value)) < 6  # 3 offsets x 2 alphabets
