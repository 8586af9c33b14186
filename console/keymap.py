"""The keymap file: staff change the console's keys without touching the code.

Every binding of the console carries an id (`floor.hold`, `door.check_in`,
`app.lock`, ...). `keymap.toml` in the config directory maps ids to keys:

    "floor.hold" = "space"
    "door.walk_in" = "ctrl+k,f9"

`load` reads the file and says plainly what is wrong with it (a line that is
not TOML, an id the console does not have, a key given twice on one screen);
the console then keeps its default keys for what was wrong and uses the rest.
`catalogue` lists every binding id with its default key, for `backroom keys`.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode

KEYMAP_FILE = "keymap.toml"

# One key as Textual names it: "f3", "ctrl+w", "question_mark", "?", "shift+tab".
_KEY = re.compile(r"^[^\s,]+$")


@dataclass(frozen=True)
class KnownBinding:
    id: str
    keys: str
    description: str
    where: str  # the class the binding belongs to: bindings clash only within one


@dataclass
class Keymap:
    """What the file asks for that can be used, and what could not."""

    keys: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    path: Path | None = None


def _load_views() -> None:
    """Import every screen and widget, so each class with bindings is known."""
    for package_name in ("screens", "widgets"):
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            importlib.import_module(info.name)
    importlib.import_module("console.app")


def _subclasses(cls: type[DOMNode]) -> list[type[DOMNode]]:
    found: list[type[DOMNode]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def catalogue() -> list[KnownBinding]:
    """Every binding of the console that has an id, in a stable order."""
    _load_views()
    seen: dict[tuple[str, str], KnownBinding] = {}
    for cls in _subclasses(DOMNode):
        if not cls.__module__.startswith(("screens.", "widgets.", "console.")):
            continue
        for binding in cls.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding) and binding.id:
                key = (cls.__name__, binding.id)
                seen.setdefault(key, KnownBinding(binding.id, binding.key, binding.description, cls.__name__))
    return sorted(seen.values(), key=lambda b: (b.id.split(".")[0] != "app", b.id, b.where))


def parse(text: str, known: list[KnownBinding], *, source: str = KEYMAP_FILE) -> Keymap:
    """The keymap in `text`, checked against the bindings the console has."""
    result = Keymap()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        result.problems.append(f"{source} is not valid TOML ({err}); the default keys are used.")
        return result
    # `[keys]` as a table is accepted as well as ids at the top level.
    if isinstance(raw.get("keys"), dict):
        raw = {**{k: v for k, v in raw.items() if k != "keys"}, **raw["keys"]}
    by_id: dict[str, list[KnownBinding]] = defaultdict(list)
    for binding in known:
        by_id[binding.id].append(binding)
    for binding_id, value in raw.items():
        if binding_id not in by_id:
            result.problems.append(
                f"{source}: “{binding_id}” is not a key of the console (`backroom keys` lists "
                "them); it is left out."
            )
            continue
        if not isinstance(value, str) or not value.strip():
            result.problems.append(
                f'{source}: “{binding_id}” needs a key as text, such as "ctrl+k"; it keeps its default.'
            )
            continue
        keys = [k.strip() for k in value.split(",")]
        if not all(k and _KEY.match(k) for k in keys):
            result.problems.append(
                f'{source}: “{binding_id}” = "{value}" is not a key name (keys are separated '
                'by commas, such as "ctrl+k,f9"); it keeps its default.'
            )
            continue
        result.keys[binding_id] = ",".join(keys)
    _drop_clashes(result, known, source)
    return result


def _drop_clashes(result: Keymap, known: list[KnownBinding], source: str) -> None:
    """A key given to two actions of one screen is ambiguous: keep the defaults for both."""
    by_where: dict[str, list[KnownBinding]] = defaultdict(list)
    for binding in known:
        by_where[binding.where].append(binding)
    clashing: set[str] = set()
    for bindings in by_where.values():
        defaults = {b.id: set(b.keys.split(",")) for b in bindings}
        final = {b.id: set(result.keys.get(b.id, b.keys).split(",")) for b in bindings}
        for a in bindings:
            if a.id not in result.keys:
                continue
            for b in bindings:
                if b.id == a.id:
                    continue
                shared = final[a.id] & final[b.id]
                # Two actions that share a key by design (hold and release on "h") may go on
                # sharing one.
                if shared and not defaults[a.id] & defaults[b.id]:
                    clashing.add(a.id)
                    result.problems.append(
                        f"{source}: “{a.id}” and “{b.id}” would both be {', '.join(sorted(shared))} "
                        f"on one screen; “{a.id}” keeps its default."
                    )
    for binding_id in clashing:
        result.keys.pop(binding_id, None)


def load(config_dir: Path) -> Keymap:
    """The keymap in `config_dir`; no file is no change."""
    path = config_dir / KEYMAP_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Keymap(path=path)
    except (OSError, UnicodeDecodeError) as err:
        return Keymap(problems=[f"{path} cannot be read ({err}); the default keys are used."], path=path)
    keymap = parse(text, catalogue(), source=str(path))
    keymap.path = path
    return keymap
