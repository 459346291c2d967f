"""The databases a server offers: the `.duckdb` files of one data folder the server chooses, known by name.

A name from a browser never becomes a path by itself: it must match NAME (letters, digits, `-` and `_`),
and it opens only a file already listed in the folder, or one an admin creates there. The folder is
FUNNEL_DATA_DIR, else the folder of the server's `--db`/FUNNEL_DB file (whose name is the default), else
`./data` with the default database `funnel`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from funnel.errors import StoreError
from funnel.store.db import DEFAULT_DB, connect

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
SUFFIX = ".duckdb"


@dataclass(frozen=True)
class DataFolder:
    """The server's data folder and the database shown when a link names none."""

    folder: Path
    default: str

    def names(self) -> list[str]:
        """The databases in the folder by name (the default one first, even before it is created)."""
        found = database_names(self.folder)
        return [self.default, *(n for n in found if n != self.default)]

    def path_of(self, name: str) -> Path:
        """The file of a listed database; a StoreError for any other name."""
        if name not in self.names():
            raise StoreError("there is no database of that name in the data folder",
                             hint="Pick one of the databases listed in the sidebar")
        return database_file(self.folder, name)


def data_folder(db_argument: str | None = None, env: dict[str, str] | None = None) -> DataFolder:
    """The server's data folder and default database (see the module's doc for the order)."""
    env = os.environ if env is None else env
    chosen = db_argument or env.get("FUNNEL_DB")
    default_file = Path(chosen) if chosen else DEFAULT_DB
    folder = Path(env.get("FUNNEL_DATA_DIR") or default_file.parent)
    default = default_file.name.removesuffix(SUFFIX)
    if not NAME.fullmatch(default):
        raise StoreError("the server's database file name is not a usable database name", file=default_file.name,
                         hint="Name it with letters, digits, - and _ only, ending in .duckdb")
    return DataFolder(folder=folder, default=default)


def database_names(folder: Path) -> list[str]:
    """The valid names of the regular `.duckdb` files in `folder` (no symbolic links), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(SUFFIX) for p in folder.iterdir()
                  if p.name.endswith(SUFFIX) and NAME.fullmatch(p.name.removesuffix(SUFFIX))
                  and p.is_file() and not p.is_symlink())


def database_file(folder: Path, name: str) -> Path:
    """`<folder>/<name>.duckdb` for a valid name; a StoreError saying what a name may hold otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise StoreError("a database name may hold only letters, digits, - and _ (at most 64)",
                         hint="For example: leads-2026 or emea_team")
    path = folder / f"{name}{SUFFIX}"
    if path.resolve().parent != folder.resolve():
        raise StoreError("a database must sit directly in the data folder", hint="Choose another name")
    return path


def create_database(place: DataFolder, name: str) -> Path:
    """A new, empty database of that name in the data folder (a StoreError if the name is taken)."""
    path = database_file(place.folder, name)
    if path.exists() or name in place.names():
        raise StoreError("a database of that name already exists", hint="Pick it in the list, or choose another name")
    connect(path).close()
    return path
