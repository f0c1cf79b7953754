"""The import-linter contracts in .importlinter hold on the real tree, and each one can break.

Each breaking case builds a small fake tree (twitterclone, boundaries, modules, twitterclone_bench)
under tmp_path with one forbidden import in it, and runs lint-imports with the real .importlinter
against it.
"""

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / ".importlinter"

# Keys of .importlinter contract sections that name modules.
MODULE_KEYS = (
    "modules",
    "source_modules",
    "forbidden_modules",
    "protected_modules",
    "allowed_importers",
    "ancestors",
)


def _lint_imports_executable() -> str:
    beside_python = Path(sys.executable).parent / "lint-imports"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("lint-imports")
    assert found, "lint-imports is not installed"
    return found


def run_lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the real config, importing packages from ``root`` first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [_lint_imports_executable(), "--config", str(CONFIG), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _config() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=("#",))
    parser.read(CONFIG)
    return parser


def contract_names() -> dict[str, str]:
    """Contract id (the section suffix) -> the name lint-imports prints."""
    parser = _config()
    prefix = "importlinter:contract:"
    return {s.removeprefix(prefix): parser[s]["name"] for s in parser.sections() if s.startswith(prefix)}


def _named_internal_modules() -> set[str]:
    """Every concrete module of the root packages that the config names (they must exist)."""
    parser = _config()
    roots = set(parser["importlinter"]["root_packages"].split())
    named = set(roots)
    for section in parser.sections():
        for key in MODULE_KEYS:
            for name in parser[section].get(key, "").split():
                if "*" not in name and name.split(".")[0] in roots:
                    named.add(name)
    return named


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def build_clean_tree(root: Path) -> None:
    """A tree shaped like the real one that keeps every contract."""
    files = {
        "boundaries/_kernel/__init__.py": "",
        "boundaries/_kernel/events.py": "import datetime\n\nimport msgspec\n",
        "boundaries/users/__init__.py": "",
        "boundaries/users/port.py": "from typing import Protocol\n\nfrom boundaries._kernel import events\n",
        "boundaries/users/directory.py": "from typing import Protocol\n\nimport boundaries.users.dto\n",
        "boundaries/users/dto.py": "import msgspec\n",
        "boundaries/tweets/__init__.py": "",
        "boundaries/tweets/port.py": "import boundaries.users.dto\n",
        # The users module implements the whole port; other modules use the narrow one.
        "modules/users/__init__.py": "import boundaries.users.port\n",
        "modules/users/service.py": (
            "import sqlalchemy\n\nimport boundaries.users.directory\nimport boundaries.users.port\n"
            "import twitterclone.infra\nimport twitterclone.settings\n\n"
            "from modules.users import repository\n"
        ),
        "modules/users/repository.py": "import sqlalchemy\n",
        "modules/tweets/__init__.py": "",
        "modules/tweets/service.py": "import boundaries.tweets.port\nimport boundaries.users.directory\n",
        # The composition root may import modules; the gateway and the CLI reach them only
        # through it.
        "twitterclone/composition/__init__.py": (
            "import modules.tweets.service\nimport modules.users.service\n"
        ),
        "twitterclone/gateway/__init__.py": "import litestar\n\nimport twitterclone.composition\n",
        "twitterclone/cli/__init__.py": "import twitterclone.composition\n",
        # The bench calls ports, and runs modules in-process only through the composition root.
        "twitterclone_bench/seed.py": "import boundaries.users.port\nimport twitterclone.composition\n",
    }
    for dotted in _named_internal_modules():
        path = dotted.replace(".", "/")
        if f"{path}.py" not in files:  # a module the config names, and the tree has as a file
            write(root, path + "/__init__.py", "")
    for relative, source in files.items():
        write(root, relative, source)


def test_real_tree_keeps_every_contract() -> None:
    result = run_lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contract_names())} kept, 0 broken" in result.stdout


def test_clean_fixture_tree_keeps_every_contract(tmp_path: Path) -> None:
    # Without this, a breaking case below could fail for a reason other than its one import.
    build_clean_tree(tmp_path)
    result = run_lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


BREAKING_CASES = {
    "module imports another module": (
        "modules-independent",
        "modules/users/leak.py",
        "import modules.tweets.service\n",
    ),
    "module imports another module indirectly": (
        "modules-independent",
        "modules/users/leak.py",
        "import twitterclone.infra.helper\n",
        # infra.helper importing a module is itself a breach; the chain still reaches tweets.
    ),
    "module imports the gateway": (
        "modules-not-gateway",
        "modules/users/leak.py",
        "import twitterclone.gateway\n",
    ),
    "module imports the composition root": (
        "modules-not-gateway",
        "modules/users/leak.py",
        "from twitterclone import composition\n",
    ),
    "module imports the cli": (
        "modules-not-gateway",
        "modules/tweets/leak.py",
        "import twitterclone.cli\n",
    ),
    "boundaries import sqlalchemy": (
        "boundaries-pure",
        "boundaries/users/dto.py",
        "import sqlalchemy\n",
    ),
    "boundaries import litestar": ("boundaries-pure", "boundaries/users/dto.py", "import litestar\n"),
    "boundaries import redis": ("boundaries-pure", "boundaries/users/dto.py", "import redis.asyncio\n"),
    "boundaries import dishka": (
        "boundaries-pure",
        "boundaries/users/dto.py",
        "from dishka import Provider\n",
    ),
    "boundaries import the kernel": (
        "boundaries-pure",
        "boundaries/users/dto.py",
        "import twitterclone.settings\n",
    ),
    "boundaries import a module": (
        "boundaries-pure",
        "boundaries/users/dto.py",
        "from modules.users import service\n",
    ),
    "gateway imports a module": (
        "only-composition-imports-modules",
        "twitterclone/gateway/routes.py",
        "import modules.users.service\n",
    ),
    "cli imports a module": (
        "only-composition-imports-modules",
        "twitterclone/cli/__init__.py",
        "import modules.users\n",
    ),
    "a kernel package the forbidden list does not name imports a module": (
        "modules-protected",
        "twitterclone/logs.py",
        "import modules.tweets\n",
    ),
    "bench imports a module": (
        "bench-outside",
        "twitterclone_bench/leak.py",
        "import modules.users.repository\n",
    ),
    "bench imports the store": (
        "bench-outside",
        "twitterclone_bench/leak.py",
        "from twitterclone.infra import store\n",
    ),
    "bench imports the gateway": (
        "bench-outside",
        "twitterclone_bench/leak.py",
        "import twitterclone.gateway\n",
    ),
    "the cli imports the bench": (
        "product-not-bench",
        "twitterclone/cli/__init__.py",
        "import twitterclone_bench.seed\n",
    ),
    "a module imports the bench": (
        "product-not-bench",
        "modules/users/leak.py",
        "import twitterclone_bench\n",
    ),
    "cycle between kernel packages": (
        "no-cycles",
        "twitterclone/settings/__init__.py",
        "import twitterclone.manifest\n",
        # manifest imports settings in the extra file below.
    ),
    "another module imports the whole users port": (
        "users-narrow-port",
        "modules/tweets/leak.py",
        "from boundaries.users.port import UsersPort\n",
    ),
    "another module reaches the whole users port through a kernel helper": (
        "users-narrow-port",
        "modules/tweets/leak.py",
        "import twitterclone.infra.users_helper\n",
        # the helper (the extra file below) imports the whole port.
    ),
    "cycle inside a module": (
        "no-cycles",
        "modules/users/repository.py",
        "import modules.users.service\n",
    ),
}

# Second files some cases need (the other half of a chain or a cycle).
EXTRA_FILES = {
    "another module reaches the whole users port through a kernel helper": (
        "twitterclone/infra/users_helper.py",
        "from boundaries.users import port\n",
    ),
    "module imports another module indirectly": ("twitterclone/infra/helper.py", "import modules.tweets\n"),
    "cycle between kernel packages": ("twitterclone/manifest/__init__.py", "import twitterclone.settings\n"),
}


def test_every_contract_has_a_breaking_case() -> None:
    covered = {contract for contract, *_ in BREAKING_CASES.values()}
    assert covered == set(contract_names())


@pytest.mark.parametrize("case", sorted(BREAKING_CASES))
def test_contract_breaks(case: str, tmp_path: Path) -> None:
    contract, relative, source = BREAKING_CASES[case]
    build_clean_tree(tmp_path)
    write(tmp_path, relative, source)
    if case in EXTRA_FILES:
        write(tmp_path, *EXTRA_FILES[case])

    result = run_lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract_names()[contract]} BROKEN" in result.stdout, result.stdout
