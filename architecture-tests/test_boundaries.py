"""Rules about boundaries/ that import-linter cannot express.

Each checker takes the directory of a boundaries package and returns the problems it finds (empty
when the rule holds). Every checker runs on the real boundaries/ and on a fixture that breaks it.
Fixture packages get a unique top-level name, so importing them never shadows the real one.
"""

import ast
import importlib
import inspect
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from boundaries._kernel.events import Event

REPO = Path(__file__).resolve().parents[1]
BOUNDARIES = REPO / "boundaries"

# Event names that are past tense without ending in "ed" (add here, with care).
PAST_TENSE_EXCEPTIONS = frozenset({"TweetWritten", "PasswordReset", "AccountShutDown"})
STRUCT_FILES = ("dto.py", "events.py")


def module_dirs(package_dir: Path) -> list[Path]:
    """The per-module packages: boundaries/<m>/, not the shared boundaries/_kernel/."""
    return sorted(
        p for p in package_dir.iterdir() if (p / "__init__.py").exists() and not p.name.startswith("_")
    )


def port_name(module: str) -> str:
    return f"{module.capitalize()}Port"


def _is_protocol(base: ast.expr) -> bool:
    if isinstance(base, ast.Subscript):  # Protocol[T]
        base = base.value
    return (isinstance(base, ast.Name) and base.id == "Protocol") or (
        isinstance(base, ast.Attribute) and base.attr == "Protocol"
    )


def check_ports(package_dir: Path) -> list[str]:
    """Each <m>/port.py holds exactly one Protocol, <M>Port, of async methods with one-line docs."""
    problems: list[str] = []
    for module in module_dirs(package_dir):
        port_file = module / "port.py"
        if not port_file.exists():
            problems.append(f"{module.name}: no port.py")
            continue
        tree = ast.parse(port_file.read_text(), filename=str(port_file))
        protocols = [
            node
            for node in tree.body
            if isinstance(node, ast.ClassDef) and any(_is_protocol(base) for base in node.bases)
        ]
        if [p.name for p in protocols] != [port_name(module.name)]:
            problems.append(
                f"{module.name}/port.py: want exactly one Protocol {port_name(module.name)}, "
                f"found {[p.name for p in protocols]}"
            )
        for protocol in protocols:
            problems += _method_problems(f"{module.name}/port.py", protocol)
    return problems


def _protocols(path: Path) -> list[ast.ClassDef]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and any(_is_protocol(base) for base in node.bases)
    ]


def _methods(protocol: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        node
        for node in protocol.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
    ]


def _method_problems(label: str, protocol: ast.ClassDef) -> list[str]:
    """Every port method is async and has a one-line docstring."""
    problems: list[str] = []
    for node in _methods(protocol):
        where = f"{label}: {protocol.name}.{node.name}"
        if not isinstance(node, ast.AsyncFunctionDef):
            problems.append(f"{where} is not async")
        doc = ast.get_docstring(node)
        if not doc:
            problems.append(f"{where} has no docstring")
        elif "\n" in doc.strip():
            problems.append(f"{where} has a docstring of more than one line")
    return problems


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    returns = ast.unparse(node.returns) if node.returns is not None else "None"
    return f"({ast.unparse(node.args)}) -> {returns}"


#: Files of boundaries/<m>/ that hold no port.
NON_PORT_FILES = frozenset({"__init__.py", "port.py", "dto.py", "events.py", "errors.py"})


def check_narrow_ports(package_dir: Path) -> list[str]:
    """A Protocol beside port.py is a narrow face of the module's port, for other modules.

    Its name ends in ``Port``; its methods follow the port rules; and a method it shares with
    ``<M>Port`` has the very same signature, because one port server answers both under
    ``/_port/<m>/<method>``.
    """
    problems: list[str] = []
    for module in module_dirs(package_dir):
        port_file = module / "port.py"
        whole = {p.name: p for p in _protocols(port_file)} if port_file.exists() else {}
        main = whole.get(port_name(module.name))
        shared = {m.name: _signature(m) for m in _methods(main)} if main is not None else {}
        for path in sorted(module.glob("*.py")):
            if path.name in NON_PORT_FILES:
                continue
            label = f"{module.name}/{path.name}"
            for protocol in _protocols(path):
                if not protocol.name.endswith("Port"):
                    problems.append(f"{label}: Protocol {protocol.name} is not named ...Port")
                problems += _method_problems(label, protocol)
                for node in _methods(protocol):
                    if node.name in shared and _signature(node) != shared[node.name]:
                        problems.append(
                            f"{label}: {protocol.name}.{node.name}{_signature(node)} differs from "
                            f"{port_name(module.name)}.{node.name}{shared[node.name]}"
                        )
    return problems


def _import_package(package_dir: Path) -> str:
    """Make ``package_dir`` importable under its own name and return that name."""
    parent = str(package_dir.parent)
    if parent not in sys.path:
        sys.path.append(parent)  # appended: the real packages keep precedence over fixtures
    importlib.invalidate_caches()
    return package_dir.name


def struct_modules(package_dir: Path) -> Iterator[tuple[str, ModuleType]]:
    """Each dto.py and events.py (of every module and of _kernel), imported."""
    package = _import_package(package_dir)
    for module in sorted(p for p in package_dir.iterdir() if (p / "__init__.py").exists()):
        for filename in STRUCT_FILES:
            if (module / filename).exists():
                label = f"{module.name}/{filename}"
                yield label, importlib.import_module(f"{package}.{module.name}.{filename[:-3]}")


def structs_defined_in(module: ModuleType) -> list[type[msgspec.Struct]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, msgspec.Struct)
        and value.__module__ == module.__name__
    ]


def check_structs(package_dir: Path) -> list[str]:
    """Every Struct in a dto.py or events.py is frozen and takes its fields by keyword only."""
    problems: list[str] = []
    for label, module in struct_modules(package_dir):
        for struct in structs_defined_in(module):
            if not struct.__struct_config__.frozen:
                problems.append(f"{label}: {struct.__name__} is not frozen")
            positional = [
                name
                for name, parameter in inspect.signature(struct).parameters.items()
                if parameter.kind is not inspect.Parameter.KEYWORD_ONLY
            ]
            if positional:
                problems.append(f"{label}: {struct.__name__} is not kw_only ({', '.join(positional)})")
    return problems


def check_events(package_dir: Path) -> list[str]:
    """Every event is tagged, named in the past tense and listed in <package>.catalog.EVENT_TYPES."""
    package = _import_package(package_dir)
    catalog = importlib.import_module(f"{package}.catalog").EVENT_TYPES
    problems: list[str] = []
    for label, module in struct_modules(package_dir):
        for event in structs_defined_in(module):
            if event is Event or not issubclass(event, Event):
                continue
            name = event.__name__
            config = event.__struct_config__
            if config.tag is None or config.tag_field is None:
                problems.append(f"{label}: {name} has no tag")
            if not name.endswith("ed") and name not in PAST_TENSE_EXCEPTIONS:
                problems.append(f"{label}: {name} is not named in the past tense")
            if event not in catalog:
                problems.append(f"{label}: {name} is missing from catalog.EVENT_TYPES")
    return problems


def _top_level_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def check_pure_imports(package_dir: Path) -> list[str]:
    """Boundaries import only the standard library, msgspec and boundaries itself."""
    allowed = set(sys.stdlib_module_names) | {"msgspec", "boundaries", package_dir.name}
    problems: list[str] = []
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, top in _top_level_imports(tree):
            if top not in allowed:
                problems.append(f"{path.relative_to(package_dir)}:{line} imports {top}")
    return problems


# --- the real tree ----------------------------------------------------------------------------


CHECKERS = [check_ports, check_narrow_ports, check_structs, check_events, check_pure_imports]


@pytest.mark.parametrize("checker", CHECKERS)
def test_real_boundaries(checker) -> None:
    assert checker(BOUNDARIES) == []


def test_real_boundaries_have_modules() -> None:
    # Guards the checkers above against passing vacuously on an empty directory.
    assert module_dirs(BOUNDARIES)
    assert any(structs_defined_in(module) for _, module in struct_modules(BOUNDARIES))


# --- fixtures that break each rule --------------------------------------------------------------

GOOD_PORT = '''
    from typing import Protocol


    class ThingsPort(Protocol):
        """Things."""

        async def get(self, thing_id: str) -> str:
            """A thing by id."""
            ...
'''
GOOD_NARROW_PORT = '''
    from typing import Protocol


    class ThingReaderPort(Protocol):
        """What other modules read of things."""

        async def get(self, thing_id: str) -> str:
            """A thing by id."""
            ...

        async def count(self) -> int:
            """How many things there are."""
            ...
'''
GOOD_DTO = """
    import msgspec


    class Thing(msgspec.Struct, frozen=True, kw_only=True):
        name: str
"""
GOOD_EVENTS = """
    from boundaries._kernel.events import Event


    class ThingCreated(Event, frozen=True, kw_only=True, tag=True):
        name: str
"""
GOOD_CATALOG = """
    from {package}.things.events import ThingCreated

    EVENT_TYPES = (ThingCreated,)
"""


def make_package(root: Path, **overrides: str) -> Path:
    """A boundaries-like package with one module, ``things``; overrides replace its files."""
    package_dir = root / f"fixture_boundaries_{uuid.uuid4().hex}"
    files = {
        "__init__.py": "",
        "catalog.py": GOOD_CATALOG,
        "things/__init__.py": "",
        "things/port.py": GOOD_PORT,
        "things/reader.py": GOOD_NARROW_PORT,
        "things/dto.py": GOOD_DTO,
        "things/events.py": GOOD_EVENTS,
    }
    files.update({name.replace("__", "/") + ".py": source for name, source in overrides.items()})
    for relative, source in files.items():
        path = package_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).format(package=package_dir.name))
    return package_dir


@pytest.mark.parametrize("checker", CHECKERS)
def test_good_fixture_passes(checker, tmp_path: Path) -> None:
    # Without this, a breaking fixture below could fail for a reason other than its one flaw.
    assert checker(make_package(tmp_path)) == []


BROKEN = {
    "sync port method": (
        check_ports,
        {"things__port": GOOD_PORT.replace("async def get", "def get")},
        "ThingsPort.get is not async",
    ),
    "port method without docstring": (
        check_ports,
        {"things__port": GOOD_PORT.replace('"""A thing by id."""', "")},
        "ThingsPort.get has no docstring",
    ),
    "port method with a long docstring": (
        check_ports,
        {"things__port": GOOD_PORT.replace("A thing by id.", "A thing by id.\n\n            More.")},
        "ThingsPort.get has a docstring of more than one line",
    ),
    "port badly named": (
        check_ports,
        {"things__port": GOOD_PORT.replace("ThingsPort", "ThingPort")},
        "want exactly one Protocol ThingsPort, found ['ThingPort']",
    ),
    "two protocols": (
        check_ports,
        {"things__port": GOOD_PORT + "\n\n    class Other(Protocol):\n        pass\n"},
        "want exactly one Protocol ThingsPort, found ['ThingsPort', 'Other']",
    ),
    "no port": (check_ports, {"things__port": "X = 1\n"}, "found []"),
    "narrow port signature drifts from the port": (
        check_narrow_ports,
        {"things__reader": GOOD_NARROW_PORT.replace("thing_id: str", "thing_id: int")},
        "things/reader.py: ThingReaderPort.get(self, thing_id: int) -> str differs from "
        "ThingsPort.get(self, thing_id: str) -> str",
    ),
    "narrow port badly named": (
        check_narrow_ports,
        {"things__reader": GOOD_NARROW_PORT.replace("ThingReaderPort", "ThingReader")},
        "things/reader.py: Protocol ThingReader is not named ...Port",
    ),
    "narrow port method without docstring": (
        check_narrow_ports,
        {"things__reader": GOOD_NARROW_PORT.replace('"""How many things there are."""', "")},
        "things/reader.py: ThingReaderPort.count has no docstring",
    ),
    "sync narrow port method": (
        check_narrow_ports,
        {"things__reader": GOOD_NARROW_PORT.replace("async def count", "def count")},
        "things/reader.py: ThingReaderPort.count is not async",
    ),
    "mutable dto": (
        check_structs,
        {"things__dto": GOOD_DTO.replace("frozen=True", "frozen=False")},
        "things/dto.py: Thing is not frozen",
    ),
    "positional dto": (
        check_structs,
        {"things__dto": GOOD_DTO.replace(", kw_only=True", "")},
        "things/dto.py: Thing is not kw_only (name)",
    ),
    "positional event": (
        check_structs,
        {"things__events": GOOD_EVENTS.replace("kw_only=True", "kw_only=False")},
        "things/events.py: ThingCreated is not kw_only (name)",
    ),
    "untagged event": (
        check_events,
        {"things__events": GOOD_EVENTS.replace("tag=True", "tag=False")},
        "things/events.py: ThingCreated has no tag",
    ),
    "event not in the past tense": (
        check_events,
        {
            "things__events": GOOD_EVENTS.replace("ThingCreated", "CreateThing"),
            "catalog": GOOD_CATALOG.replace("ThingCreated", "CreateThing"),
        },
        "things/events.py: CreateThing is not named in the past tense",
    ),
    "event missing from the catalog": (
        check_events,
        {"catalog": "EVENT_TYPES = ()\n"},
        "things/events.py: ThingCreated is missing from catalog.EVENT_TYPES",
    ),
    "boundaries import sqlalchemy": (
        check_pure_imports,
        {"things__dto": "import sqlalchemy\n"},
        "things/dto.py:1 imports sqlalchemy",
    ),
    "boundaries import the kernel": (
        check_pure_imports,
        {"things__port": "from twitterclone.infra import ids\n"},
        "things/port.py:1 imports twitterclone",
    ),
    "boundaries import pydantic under TYPE_CHECKING": (
        check_pure_imports,
        {"things__dto": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pydantic\n"},
        "things/dto.py:3 imports pydantic",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_checker_sees_the_break(case: str, tmp_path: Path) -> None:
    checker, overrides, expected = BROKEN[case]
    problems = checker(make_package(tmp_path, **overrides))
    assert any(expected in problem for problem in problems), problems
