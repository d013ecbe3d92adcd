"""Where the `promptopt` command finds the database: where pytest put it.

pytest takes the rootdir from the first ini file found from the current directory up
(`pytest.ini`, `.pytest.ini`, `pyproject.toml` with a `[tool.pytest.ini_options]` or
`[tool.pytest]` table, `tox.ini` with `[pytest]`, `setup.cfg` with `[tool:pytest]`) and the
plugin puts its database at `promptopt_db` from that file, else `<rootdir>/.promptopt/promptopt.db`.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

DEFAULT_DB = Path(".promptopt") / "promptopt.db"
INI_KEY = "promptopt_db"


@dataclass
class Located:
    """The database URL found, how it was found, and where else a database lies near by."""

    url: str
    how: str
    path: Path | None = None
    nearby: list[Path] = field(default_factory=list)

    def missing_message(self) -> str:
        """What to say when the SQLite file is not there: where it looked and what is near."""
        text = f"no promptopt database at {self.path} ({self.how})"
        if self.nearby:
            shown = ", ".join(str(p) for p in self.nearby)
            text += f"; found one under a subfolder: {shown} (pass --db PATH or cd there)"
        else:
            text += "; run pytest with the plugin first, or pass --db URL (or set PROMPTOPT_DB)"
        return text


def _ini_value(path: Path) -> tuple[bool, str | None]:
    """(is a pytest config file, its `promptopt_db` if set) for one candidate file."""
    try:
        if path.name == "pyproject.toml":
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {})
            table = tool.get("pytest", {})
            if not isinstance(table, dict):
                return False, None
            options = table.get("ini_options", table)
            if "ini_options" not in table and not table:
                return False, None
            value = options.get(INI_KEY) if isinstance(options, dict) else None
            return True, None if value is None else str(value)
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, configparser.Error):
        return False, None
    section = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    if not parser.has_section(section):
        # pytest.ini is pytest's even with no [pytest] section; the other two are not.
        return path.name in ("pytest.ini", ".pytest.ini"), None
    value = parser.get(section, INI_KEY, fallback=None)
    return True, None if value is None else value.strip()


def find_rootdir(start: Path) -> tuple[Path, Path | None, str | None]:
    """(rootdir, the ini file or None, its `promptopt_db`) as pytest finds them from `start`."""
    names = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
    for folder in (start, *start.parents):
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                is_config, value = _ini_value(candidate)
                if is_config:
                    return folder, candidate, value
    return start, None, None


def _url_of(value: str, rootdir: Path) -> tuple[str, Path | None]:
    """A URL as is; a plain path as an SQLite file, a relative one under the rootdir."""
    if "://" in value:
        path = Path(value.split(":///", 1)[1]) if value.startswith("sqlite:///") else None
        return value, path
    path = Path(value).expanduser()
    path = path if path.is_absolute() else rootdir / path
    return f"sqlite:///{path}", path


def locate(start: Path) -> Located:
    """The project's database as the plugin would use it for a pytest run started at `start`."""
    rootdir, ini, value = find_rootdir(start.resolve())
    where = f"rootdir {rootdir}" + (f" from {ini.name}" if ini is not None else ", no ini file")
    if value:
        url, path = _url_of(value, rootdir)
        found = Located(url, f"{INI_KEY} in {ini}", path)
    else:
        path = rootdir / DEFAULT_DB
        found = Located(f"sqlite:///{path}", f"the default under the {where}", path)
    if found.path is not None and not found.path.exists():
        found.nearby = sorted(p for p in rootdir.glob(f"*/{DEFAULT_DB.as_posix()}") if p.is_file())[
            :5
        ]
    return found
