"""Request bodies on the Mastodon routes: form, JSON and multipart, all three on every write route.

Mastodon (Rails) reads parameters the same way whatever the encoding, so clients differ:
Mastodon.py sends ``application/x-www-form-urlencoded`` (``media_ids[]=1&media_ids[]=2``),
toot sends JSON, uploads are ``multipart/form-data``. ``read_body`` folds each into one dict
(Rails' bracket syntax: ``a[]`` is a list, ``a[b]`` a nested hash, ``a[0][b]`` a list of hashes)
and converts it to the route's struct, strings to numbers and booleans as Rails does. Unknown
parameters are ignored, as Mastodon ignores them; a wrong one is a 422 ``{"error"}``.

``body_operation`` documents the same struct under the three media types in the OpenAPI
document, so the fuzz run sends all three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody

from boundaries._kernel.errors import InvalidInput

S = TypeVar("S", bound=msgspec.Struct)

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
JSON = "application/json"

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class BadParams(InvalidInput):
    """A Mastodon route's parameters could not be read (422)."""

    code = "invalid-params"


def _insert(target: dict[str, Any], key: str, value: Any) -> None:
    """Put ``value`` at a Rails-style ``key`` (``a``, ``a[]``, ``a[b]``, ``a[0][b]``)."""
    match = _KEY.match(key)
    if match is None:
        target[key] = value
        return
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        following = None if last else parts[i + 1]
        if part == "":  # a[] : append to a list
            if not isinstance(node, list):
                return
            if last:
                node.append(value)
                return
            node.append({})
            node = node[-1]
            continue
        if not isinstance(node, dict):
            return
        if last:
            existing = node.get(part)
            if isinstance(existing, list):
                existing.append(value)
            elif part in node and not isinstance(existing, dict):
                node[part] = [existing, value]  # a repeated plain key: a list, as schemathesis sends
            else:
                node[part] = value
            return
        if part not in node or not isinstance(node[part], (dict, list)):
            node[part] = [] if following == "" else {}
        node = node[part]


def _listify(value: Any) -> Any:
    """A hash keyed by indices (``a[0][b]``) as the list it stands for."""
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def form_to_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Rails' reading of form fields (in order) as one nested dict."""
    out: dict[str, Any] = {}
    for key, value in items:
        _insert(out, key, value)
    return {k: _listify(v) for k, v in out.items()}


def _list_fields(struct: type[msgspec.Struct]) -> set[str]:
    fields: set[str] = set()
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    for field in info.fields:
        kind = field.type
        if isinstance(kind, msgspec.inspect.UnionType):
            kinds = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
            kind = kinds[0] if len(kinds) == 1 else kind
        if isinstance(kind, msgspec.inspect.ListType):
            fields.add(field.encode_name)
    return fields


async def raw_params(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The body's parameters as one dict, whatever its encoding (an empty body: none)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in (FORM, MULTIPART):
        form = await request.form()
        return form_to_dict(list(form.multi_items()))
    body = await request.body()
    if not body.strip():
        return {}
    if content_type and content_type != JSON and not content_type.endswith("+json"):
        raise BadParams(f"send the parameters as JSON, a form or multipart, not {content_type}")
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadParams(f"the JSON body is malformed: {exc}") from exc
    if not isinstance(decoded, dict):
        raise BadParams("the JSON body must be an object")
    return decoded


def convert(params: dict[str, Any], struct: type[S]) -> S:
    """Convert parameters to ``struct``: Rails-style scalars for lists, strings for numbers."""
    params = {k: v for k, v in params.items() if not isinstance(v, UploadFile)}
    for name in _list_fields(struct):
        value = params.get(name)
        if value is not None and not isinstance(value, list):
            params[name] = [value]
    try:
        return msgspec.convert(params, struct, strict=False)
    except msgspec.ValidationError as exc:
        raise BadParams(f"Validation failed: {exc}") from exc


async def read_body(request: Request[Any, Any, Any], struct: type[S]) -> S:
    """The route's parameters from a form, JSON or multipart body."""
    return convert(await raw_params(request), struct)


def _inline(schema: Any, components: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return _inline(components[ref.rsplit("/", 1)[-1]], components)
        return {k: _inline(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, components) for v in schema]
    return schema


def body_schema(struct: type[msgspec.Struct], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of a body struct, self-contained (no references)."""
    (ref,), components = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    schema: dict[str, Any] = _inline(ref, components)
    if extra:
        schema = {**schema, "properties": {**schema.get("properties", {}), **extra}}
    return schema


def body_operation(
    struct: type[msgspec.Struct],
    *,
    file_field: str | None = None,
    required: bool = False,
) -> type[Operation]:
    """An OpenAPI ``operation_class`` documenting ``struct`` as form, JSON and multipart bodies.

    With ``file_field``, the body is multipart only, and that field is a binary file.
    """
    if file_field:
        schema = body_schema(struct, {file_field: {"type": "string", "format": "binary"}})
        schema["required"] = sorted({*schema.get("required", []), file_field})
        content = {MULTIPART: OpenAPIMediaType(schema=schema)}  # type: ignore[arg-type]
    else:
        schema = body_schema(struct)
        content = {
            media: OpenAPIMediaType(schema=schema)  # type: ignore[arg-type]
            for media in (JSON, FORM, MULTIPART)
        }

    @dataclass
    class BodyOperation(Operation):
        reads_body: ClassVar[bool] = True

        def __post_init__(self) -> None:
            self.request_body = RequestBody(content=content, required=required)

    BodyOperation.__name__ = f"{struct.__name__}Operation"
    return BodyOperation


__all__ = ["BadParams", "body_operation", "body_schema", "convert", "form_to_dict", "raw_params", "read_body"]
