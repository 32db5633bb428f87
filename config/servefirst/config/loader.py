"""Load ``servefirst.toml`` and playbook YAML files into validated models.

Every problem becomes one ``file:line: message`` line, all of them at once (fixing a config
one error per run is miserable), raised as ``ConfigFileError`` so the CLI exits 2 and prints
them. Environment variables prefixed ``SERVEFIRST_`` override the file, e.g.
``SERVEFIRST_STATE_URL`` or ``SERVEFIRST_CONNECTIONS__ACME__TIMEOUT_SECONDS`` (``__`` nests).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from servefirst.config.locate import Loc, format_problem, problems_from, toml_line, yaml_line
from servefirst.config.settings import Settings
from servefirst.playbook.definition import CLOSED_STAGES, Playbook, daily_placeholders
from servefirst.playbook.errors import ConfigError

DEFAULT_CONFIG = "servefirst.toml"
BUILTIN_PREFIX = "builtin:"
ENV_PREFIX = "SERVEFIRST_"
_M = TypeVar("_M", bound=BaseModel)
_NOT_OVERRIDES = {"SERVEFIRST_CONFIG"}


class ConfigFileError(ConfigError):
    """One or more problems in a config or playbook file, each as ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def config_path(path: Path | None) -> Path:
    """The config file to use: the given one, ``$SERVEFIRST_CONFIG``, or ./servefirst.toml."""
    if path is not None:
        return path
    env = os.environ.get("SERVEFIRST_CONFIG")
    return Path(env) if env else Path(DEFAULT_CONFIG)


def load_settings(path: Path | None = None) -> Settings:
    """Read, override from the environment, and validate a ``servefirst.toml``."""
    path = config_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; create one with `servefirst init` or pass -c/--config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _toml_error_line(str(exc))
        raise ConfigFileError([format_problem(path, line, f"invalid TOML: {exc}")]) from None
    _apply_env_overrides(data)
    data["base_dir"] = path.parent.resolve()
    return _validated(Settings, data, path, lambda loc: toml_line(text, loc))


def _toml_error_line(message: str) -> int:
    marker = "(at line "
    if marker in message:
        tail = message.split(marker, 1)[1]
        digits = "".join(ch for ch in tail.split(",", 1)[0] if ch.isdigit())
        if digits:
            return int(digits)
    return 1


def _apply_env_overrides(data: dict[str, Any]) -> None:
    for name, value in os.environ.items():
        if not name.startswith(ENV_PREFIX) or name in _NOT_OVERRIDES:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = value


def playbook_source(settings: Settings, connection: str | None = None) -> Path:
    """The file a connection's playbook comes from (bundled ones live in this package).

    A connection with its own ``playbook`` key uses it; otherwise, and when ``connection`` is
    ``None``, the top-level ``playbook``.
    """
    conn = settings.connections.get(connection) if connection is not None else None
    ref = conn.playbook if conn is not None and conn.playbook else settings.playbook
    if ref.startswith(BUILTIN_PREFIX):
        return builtin_playbook(ref[len(BUILTIN_PREFIX) :])
    path = Path(ref)
    return path if path.is_absolute() else settings.base_dir / path


def builtin_playbook(name: str) -> Path:
    """Path of a playbook bundled with servefirst (``prime``)."""
    candidate = resources.files("servefirst.config") / "playbooks" / f"{name}.yaml"
    path = Path(str(candidate))
    if not path.is_file():
        raise ConfigError(f"no bundled playbook named {name!r}; the bundled one is 'prime'")
    return path


def load_playbook(settings: Settings, connection: str | None = None) -> Playbook:
    """The playbook the settings point at (for ``connection``, its own if it has one)."""
    return load_playbook_file(playbook_source(settings, connection))


def load_playbook_file(path: Path) -> Playbook:
    """Parse and validate a playbook YAML file; every problem names its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such playbook file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigFileError([format_problem(path, line, f"invalid YAML: {reason}")]) from None
    except YAMLError as exc:
        raise ConfigFileError([format_problem(path, 1, f"invalid YAML: {exc}")]) from None
    if not isinstance(document, dict):
        raise ConfigFileError([format_problem(path, 1, "a playbook must be a YAML mapping")])
    return _validated(Playbook, _plain(document), path, lambda loc: yaml_line(document, loc))


def stage_map_problems(settings: Settings, path: Path | None = None) -> list[str]:
    """``stage_map`` keys that are no stage of their connection's playbook, as ``file:line``.

    Checked before anything runs: a connection would otherwise fail at provisioning, or record
    a failed sync, over a typo RevOps can fix in a second. A playbook that does not load is
    reported where it is loaded, not here.
    """
    path = config_path(path)
    problems = []
    text: str | None = None
    for name, conn in settings.connections.items():
        if not conn.stage_map:
            continue
        try:
            playbook = load_playbook(settings, name)
        except ConfigError:
            continue
        keys = [s.key for s in playbook.stages] + list(CLOSED_STAGES)
        for key in conn.stage_map:
            if key in keys:
                continue
            if text is None:
                text = _read_or_empty(path)
            line = toml_line(text, ("connections", name, "stage_map", key))
            problems.append(
                format_problem(
                    path,
                    line,
                    f"connections.{name}.stage_map: {key!r} is not a stage of playbook "
                    f"{playbook.name!r}; use one of: {', '.join(keys)}",
                )
            )
    return problems


def playbook_warnings(playbook: Playbook, path: Path) -> list[str]:
    """Things in a valid playbook worth a second look, as ``file:line: warning: message``."""
    found = daily_placeholders(playbook)
    if not found:
        return []
    try:
        document = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError):
        document = None
    return [
        format_problem(path, yaml_line(document, loc) if document else 1, f"warning: {message}")
        for loc, message in found
    ]


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _validated(model: type[_M], data: Any, path: Path, line_of: Callable[[Loc], int]) -> _M:
    """Validate ``data``; every problem becomes ``file:line: message``, all at once."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(
            [format_problem(path, line_of(loc), message) for loc, message in problems_from(exc)]
        ) from None


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists, for pydantic."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node
