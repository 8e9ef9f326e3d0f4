"""Input documents (scenarios, calibration specs, targets, sweeps): read YAML, validate with
pydantic, and turn the first problem into one :class:`~sim.errors.InputError` naming the file the
offending key was written in, the field path and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sim.errors import InputError

#: field path -> the file that wrote it (a scenario and the files it extends)
Origins = dict[tuple, str]


#: libyaml's safe loader where PyYAML was built with it (about 7x faster than the pure-Python one,
#: the same documents and errors), else the pure-Python one
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml_mapping(path: str | Path) -> dict:
    """A YAML file that must hold a mapping (missing file, bad YAML: InputError)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), None, "file not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InputError(str(path), None, f"invalid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), None, f"cannot be read ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputError(str(path), None, "expected a YAML mapping at the top level")
    return data


def validate_document(model: type[BaseModel], raw: dict, path: Path, origins: Origins | None = None):
    """Validate ``raw`` as ``model``; the first problem becomes a one-line InputError."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _data_loc(raw, err["loc"])
        raise InputError(
            origin_of(origins or {}, loc, path), _format_loc(loc), _expected(err, loc, model)
        ) from None


def _data_loc(raw: Any, loc: tuple) -> tuple:
    """Drop the union tags pydantic inserts into error locations, keeping real keys."""
    out: list = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict | list):
            if isinstance(part, str) and not any(c in part for c in "[]-"):
                # a key that is missing from the data (a required key), or a union tag
                if isinstance(node, dict) and _looks_like_tag(node, part):
                    continue
                out.append(part)
                node = None
        else:
            break
    return tuple(out)


def _looks_like_tag(node: dict, part: str) -> bool:
    return part in {str(v) for v in node.values() if isinstance(v, str)}


def _format_loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def origin_of(origins: Origins, loc: tuple, default: Path) -> str:
    for n in range(len(loc), -1, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    return str(default)


def _allowed_keys(loc: tuple, root: type[BaseModel]) -> list[str] | None:
    """Field names of the schema model at ``loc`` (for 'unknown key' messages)."""
    from typing import get_args, get_origin

    model: Any = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        ann = None
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            ann = model.model_fields[part].annotation
        elif get_origin(model) is dict:
            ann = get_args(model)[1]
        if ann is None:
            return None
        model = _unwrap(ann, loc, part)
        if model is None:
            return None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return None


def _unwrap(ann: Any, loc: tuple, part: Any) -> Any:
    from typing import get_args, get_origin

    while get_origin(ann) is not None and get_origin(ann) is not dict:
        args = [a for a in get_args(ann) if a is not type(None)]
        if get_origin(ann) is list:
            ann = args[0]
            continue
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1:
            return models[0]
        if not models:
            ann = args[0] if args else None
            if ann is None:
                return None
            continue
        return None
    return ann


def _expected(err: ErrorDetails, loc: tuple, root: type[BaseModel]) -> str:
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc, root)
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "missing required key"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("float_parsing", "float_type"):
        return f"expected a number, got {shown}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected an integer, got {shown}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {shown}"
    if kind in ("string_type",):
        return f"expected text, got {shown}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {shown}"
    if kind == "union_tag_invalid":
        return (
            f"expected {ctx.get('discriminator')} to be one of {ctx.get('expected_tags')}, "
            f"got {ctx.get('tag')!r}"
        )
    if kind == "union_tag_not_found":
        return f"expected a {ctx.get('discriminator')} key"
    bounds = {
        "greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"expected a value {bounds[kind]} {limit}, got {shown}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {shown}"
    if kind == "list_type":
        return f"expected a list, got {shown}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} items"
    if kind == "string_pattern_mismatch":
        return f"expected letters, digits, '_', '.' or '-', got {shown}"
    return err["msg"]
