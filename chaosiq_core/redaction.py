"""Remove secrets from anything before it leaves the machine.

What is replaced by :data:`MARKER`:

* every value of the experiment's ``secrets`` block that is written inline,
  and every loaded secret value wherever it shows up (activity arguments,
  outputs, journals, logs captured in outputs);
* configuration values loaded from ``env`` or ``vault`` sources;
* the tokens of the settings' ``auths``;
* the value of any key whose name looks sensitive (``password``, ``token``,
  ``secret``, ``api_key``, ... plus a user list: option
  ``controls.chaosiq-cloud.options.redaction.keys``).

The experiment's local path (``extensions[chaosiq].experiment_path``) is
dropped. Documents are copied, never changed in place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from chaosiq_core.serialize import dumps, to_jsonable

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
_REFERENCE_KEYS = {"type", "key", "path", "env_var_type", "default"}
_MIN_SECRET_LEN = 4


class Redactor:
    """Replaces known secret values and sensitive keys in JSON-like documents."""

    def __init__(self, values: Iterable[str] = (), keys: Iterable[str] = DEFAULT_KEYS) -> None:
        vals = sorted(
            {v for v in values if isinstance(v, str) and len(v) >= _MIN_SECRET_LEN}, key=len, reverse=True
        )
        self._values = vals
        self._pattern = re.compile("|".join(re.escape(v) for v in vals)) if vals else None
        self._keys = tuple(k.lower() for k in keys)
        self._key_cache: dict[str, bool] = {}
        # the text fast path of to_json() is sound only if every secret is written as-is in JSON
        self._fast = all(json.dumps(v, ensure_ascii=False)[1:-1] == v for v in vals)

    @classmethod
    def for_run(
        cls,
        experiment: dict[str, Any] | None,
        *,
        secrets: dict[str, Any] | None = None,
        configuration: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        extra_keys: Iterable[str] = (),
    ) -> Redactor:
        """Collect the secret values of a run: loaded secrets, env/vault configuration, tokens."""
        values: list[str] = []
        _leaves(secrets or {}, values)
        _leaves((experiment or {}).get("secrets") or {}, values, skip_references=True)
        declared = (experiment or {}).get("configuration") or {}
        for name, decl in declared.items():
            if isinstance(decl, dict) and decl.get("type") in ("env", "vault"):
                loaded = (configuration or {}).get(name)
                if loaded is not None:
                    values.append(str(loaded))
        for entry in ((settings or {}).get("auths") or {}).values():
            if isinstance(entry, dict) and entry.get("value"):
                values.append(str(entry["value"]))
        return cls(values, (*DEFAULT_KEYS, *extra_keys))

    def is_sensitive_key(self, key: str) -> bool:
        hit = self._key_cache.get(key)
        if hit is None:
            k = key.lower()
            hit = any(s in k for s in self._keys)
            if len(self._key_cache) < 4096:
                self._key_cache[key] = hit
        return hit

    def to_json(self, doc: Any) -> str:
        """``dumps(self(doc))``, without copying ``doc`` when there is nothing to redact.

        ``doc`` is encoded once; when its JSON text holds no sensitive key name,
        no ``experiment_path`` and no secret value, that text is the answer
        (redaction would not change anything). Otherwise the full walk runs.
        """
        return self.encode(doc)[0]

    def encode(self, doc: Any) -> tuple[str, bool]:
        """``(to_json(doc), clean)``; *clean*: the text needed no redaction (it is ``dumps(doc)``)."""
        text = dumps(doc)
        if self.is_clean(text):
            return text, True
        return dumps(self._walk(json.loads(text), in_secrets=False)), False

    def is_clean(self, text: str) -> bool:
        """True when the JSON ``text`` surely needs no redaction (what :meth:`to_json` tests)."""
        return self._fast and not self._needs_walk(text)

    def holds_secret_value(self, text: str) -> bool:
        """True when ``text`` holds a secret value (the value test alone, no key names).

        Sound only where the text's keys are known not to be sensitive and the
        rest of the document passed :meth:`is_clean` (every secret is then
        written as-is in JSON text).
        """
        return self._pattern is not None and self._pattern.search(text) is not None

    def _needs_walk(self, text: str) -> bool:
        low = text.lower()
        if '"experiment_path"' in low:
            return True
        for key in self._keys:  # a loop, not any(...): no generator per call (run for every event)
            if key in low:
                return True
        return self.holds_secret_value(text)

    def redact_text(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MARKER, text)

    def __call__(self, doc: Any) -> Any:
        """A redacted, JSON-safe copy of ``doc``."""
        return self._walk(to_jsonable(doc), in_secrets=False)

    def _walk(self, node: Any, in_secrets: bool) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                if k == "experiment_path":
                    continue
                if k == "secrets" and isinstance(v, dict):
                    out[k] = self._secrets_block(v)
                elif isinstance(k, str) and self.is_sensitive_key(k) and not isinstance(v, (dict, list)):
                    out[k] = MARKER if v not in (None, "") else v
                else:
                    out[k] = self._walk(v, in_secrets)
            return out
        if isinstance(node, list):
            return [self._walk(v, in_secrets) for v in node]
        if isinstance(node, str):
            return self.redact_text(node)
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


def _leaves(node: Any, into: list[str], skip_references: bool = False) -> None:
    if isinstance(node, dict):
        if skip_references and node.get("type") in ("env", "vault"):
            return
        for v in node.values():
            _leaves(v, into, skip_references)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _leaves(v, into, skip_references)
    elif isinstance(node, (str, int, float)) and not isinstance(node, bool):
        into.append(str(node))
