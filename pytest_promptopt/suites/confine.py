"""Where a suite may read files: inside the rootdir or a folder of `promptopt_allowed_paths`.

Every path a suite file names (its prompt files, case files, and the images and documents of
its cases) is resolved with symlinks followed and must land on a regular file inside one of
those folders; anything else is a SuiteError naming the suite file, the field, the resolved
path and the fix.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_promptopt.errors import SuiteError

VIRTUAL_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))
"""Kernel filesystems: their files are never suite data (`/proc/self/environ` holds the keys)."""
ALLOW_SETTING = "promptopt_allowed_paths"


def is_virtual(path: Path) -> bool:
    """True for a (resolved) path on /proc, /sys or /dev, which report sizes of 0 or lie."""
    return any(path == root or path.is_relative_to(root) for root in VIRTUAL_ROOTS)


def has_nul(name: str) -> bool:
    """True when a path holds a NUL byte, which no file name can."""
    return "\x00" in name


@dataclass(frozen=True)
class FileRoots:
    """The folders a suite's files may be read from, resolved."""

    folders: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike[str]]) -> FileRoots:
        """Roots from folders (resolved, symlinks followed)."""
        return cls(tuple(dict.fromkeys(Path(f).resolve() for f in folders)))

    @classmethod
    def default_for(cls, suite_path: Path) -> FileRoots:
        """Outside pytest: the current directory and the suite file's own folder."""
        return cls.of([Path.cwd(), Path(suite_path).parent])

    def contain(self, resolved: Path) -> bool:
        """True when `resolved` lies inside one of the folders."""
        return any(resolved.is_relative_to(folder) for folder in self.folders)

    def check(
        self, where: str, field: str, name: str, base: Path, *, what: str, missing_ok: bool = False
    ) -> Path | None:
        """The file `name` (relative to `base`) resolved, once it is a regular file inside.

        `where` starts the message (the suite file, or the case's file and line); a missing
        file is None with `missing_ok` (the caller says it its own way), else a SuiteError.
        """
        prefix = f"{where}: field {field!r}"
        if has_nul(name):
            raise SuiteError(
                f"{prefix}: the path {name!r} holds a NUL byte, which no file name can; remove it",
                path=where,
            )
        joined = Path(os.path.normpath(base / name))
        try:
            resolved = joined.resolve(strict=True)
        except FileNotFoundError:
            if missing_ok:
                return None
            raise SuiteError(
                f"{prefix}: {what} {name!r} not found (looked for {joined}); create it or fix "
                "the path (relative to the suite file)",
                path=where,
            ) from None
        except (OSError, RuntimeError) as exc:  # a symlink loop, a folder we may not enter
            raise SuiteError(
                f"{prefix}: cannot resolve {what} {name!r}: {exc}", path=where
            ) from None
        if is_virtual(resolved) or not self.contain(resolved):
            raise SuiteError(
                f"{prefix}: {what} {name!r} resolves to {resolved}, outside the folders suites "
                f"may read ({', '.join(str(f) for f in self.folders)}); move the file under the "
                f"rootdir, or add its folder to {ALLOW_SETTING} in the ini file",
                path=where,
            )
        try:
            mode = resolved.stat().st_mode
        except OSError as exc:
            raise SuiteError(
                f"{prefix}: cannot read {what} {resolved}: {exc}", path=where
            ) from None
        if not stat.S_ISREG(mode):
            raise SuiteError(
                f"{prefix}: {what} {name!r} resolves to {resolved}, which is not a regular file "
                "(a folder, device or pipe); point it at a file",
                path=where,
            )
        return resolved
