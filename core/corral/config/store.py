"""Reading and writing the config file (``config.data``).

Loading refuses, with a message that says what to do, a file that is
missing, truncated, not JSON, of another format version, or that fails
the schema or the cross-object checks. Saving validates first and then
replaces the file atomically, so a bad config never reaches the disk and
the last good file survives every failure.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import ValidationError

from corral import __version__
from corral.api.errors import ConfigError
from corral.api.params import flatten_messages
from corral.atomicfile import write_atomically
from corral.config.check import check_config
from corral.config.objects import CONFIG_VERSION
from corral.config.objects import ConfigData
from corral.config.schemas import ConfigSchema

if TYPE_CHECKING:
    import pluggy

    from corral.plugins.registry import DriverRegistry

_SCHEMA = ConfigSchema()
_KEYED = re.compile(r"^(nodegroups|nodes|instances|networks)\.([^.]+)\.(key|value)(.*)$")


def _readable(path: str, raw: Any) -> str:
    """``instances.<uuid>.value.beparams`` -> ``instances[web1].beparams``."""
    match = _KEYED.match(path)
    if not match:
        return path
    kind, key, part, rest = match.groups()
    name = key
    if isinstance(raw, dict):
        obj = raw.get(kind, {}).get(key) if isinstance(raw.get(kind), dict) else None
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            name = obj["name"]
    return f"{kind}[{name}]{rest}" if part == "value" else f"{kind}[{key}] (the key)"


def parse(raw: Any, source: str = "config") -> ConfigData:
    """Turn a decoded JSON document into config objects, or raise ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} is not a JSON object")
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(f"{source} has no valid format version (found {version!r})")
    if version > CONFIG_VERSION:
        raise ConfigError(
            f"{source} has format version {version}, but corral {__version__} reads only up to"
            f" version {CONFIG_VERSION}: upgrade corral on this node"
        )
    if version < CONFIG_VERSION:
        raise ConfigError(f"{source} has format version {version}, older than any corral wrote")
    try:
        cfg: ConfigData = _SCHEMA.load(raw)
    except ValidationError as err:
        problems = [
            f"{_readable(path, raw)}: {'; '.join(msgs)}"
            for path, msgs in sorted(flatten_messages(err.messages).items())
        ]
        raise ConfigError(f"{source} does not match the config schema:", problems) from None
    return cfg


def to_document(cfg: ConfigData) -> dict[str, Any]:
    """``cfg`` as the JSON document the file (and a replica push) holds."""
    document: dict[str, Any] = _SCHEMA.dump(cfg)
    return document


def encode_document(document: dict[str, Any]) -> bytes:
    """Stable key order, so equal configs give equal bytes on every node."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def serialize(cfg: ConfigData) -> bytes:
    """The file content for ``cfg``."""
    return encode_document(to_document(cfg))


_COLLECTIONS = ("instances", "networks", "nodegroups", "nodes")


def _encode(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class DocumentEncoder:
    """:func:`serialize`, but re-encoding only the objects that changed since the last call.

    Config objects are immutable, so an object that is still the very one
    encoded last time has the same bytes. The result is byte for byte what
    :func:`serialize` gives (the same key order and separators), which a
    test pins; the master's config writer uses it so that one change to a
    10,000-instance config costs one instance's encoding, not 10,000.
    """

    def __init__(self) -> None:
        self._schemas = {name: _SCHEMA.fields[name].value_field.schema for name in _COLLECTIONS}  # type: ignore[attr-defined]
        self._cache: dict[str, dict[str, tuple[Any, bytes]]] = {n: {} for n in _COLLECTIONS}

    def encode(self, cfg: ConfigData) -> bytes:
        empty: dict[str, Any] = {name: {} for name in _COLLECTIONS}
        top = to_document(dataclasses.replace(cfg, **empty))
        parts = []
        for key in sorted(top):
            if key in _COLLECTIONS:
                value = self._collection(key, getattr(cfg, key))
            else:
                value = _encode(top[key])
            parts.append(_encode(key) + b":" + value)
        return b"{" + b",".join(parts) + b"}"

    def _collection(self, name: str, objs: dict[str, Any]) -> bytes:
        cache = self._cache[name]
        schema = self._schemas[name]
        fresh: dict[str, tuple[Any, bytes]] = {}
        items = []
        for key in sorted(objs):
            obj = objs[key]
            hit = cache.get(key)
            if hit is None or hit[0] is not obj:
                hit = (obj, _encode(key) + b":" + _encode(schema.dump(obj)))
            fresh[key] = hit
            items.append(hit[1])
        self._cache[name] = fresh
        return b"{" + b",".join(items) + b"}"


class ConfigStore:
    """The config file of one node (the master's, or a candidate's replica)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def read_document(self) -> Any:
        """The file's decoded JSON; raise ConfigError if it is missing or not JSON."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"config file {self.path} does not exist: is this node part of a cluster?"
            ) from None
        except OSError as err:
            raise ConfigError(f"cannot read config file {self.path}: {err.strerror}") from None
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            where = ""
            if isinstance(err, json.JSONDecodeError):
                where = f" ({err.msg}: line {err.lineno}, column {err.colno})"
            kind = "empty" if not data.strip() else "not valid JSON"
            raise ConfigError(
                f"config file {self.path} is corrupt: {kind}{where}; it was left untouched:"
                " restore it from a master candidate's copy"
            ) from None

    def load(self) -> ConfigData:
        """Read, parse and check the file; raise ConfigError saying what is wrong."""
        cfg = parse(self.read_document(), f"config file {self.path}")
        problems = check_config(cfg)
        if problems:
            raise ConfigError(
                f"config file {self.path} is inconsistent:\n"
                + "\n".join(f"  {p}" for p in problems)
            )
        return cfg

    def save(
        self,
        cfg: ConfigData,
        registry: DriverRegistry | None = None,
        pm: pluggy.PluginManager | None = None,
    ) -> None:
        """Check ``cfg`` and write it atomically; on any problem the file is not touched."""
        problems = check_config(cfg, registry, pm)
        if problems:
            raise ConfigError(
                "refusing to write an inconsistent config:\n"
                + "\n".join(f"  {p}" for p in problems)
            )
        data = serialize(cfg)
        parse(json.loads(data), "the config about to be written")  # the schema holds too
        self.write(data)

    def write(self, data: bytes) -> None:
        """Replace the file with ``data``, already checked by the caller (blocking)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, data)
