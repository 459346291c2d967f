"""Files a person uploads to the dashboard: written to a private temp file under a server-made name,
parsed and validated (or the error saying why not), sampled for the guided mapper; and the bundled
sample loaded into an empty store on first start."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from funnel.config import Settings
from funnel.errors import FunnelError
from funnel.ingest.importer import PreparedImport, prepare_import, write_import
from funnel.ingest.mapping import mapping_from_text
from funnel.ingest.worker import parse_untrusted

UPLOAD_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".parquet")
SAMPLE_ROWS = 500


def saved_upload(data: bytes, name: str) -> Path:
    """An upload written to a private temp file with a server-made name (the client's name is display only)."""
    folder = Path(tempfile.gettempdir()) / "funnel-uploads"
    folder.mkdir(mode=0o700, exist_ok=True)
    suffix = Path(name).suffix.lower()
    path = folder / f"{uuid.uuid4().hex}{suffix if suffix in UPLOAD_SUFFIXES else '.bin'}"
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def prepared_upload(data: bytes, name: str, *, mapping_text: str, table: str | None, settings: Settings,
                    saved_texts: Sequence[tuple[str, str]] = ()) -> PreparedImport | FunnelError:
    """An uploaded file parsed, mapped and validated, or the error saying why not. `mapping_text` is a
    mapping's TOML (empty: recognise the file); `saved_texts` the (name, TOML) of the saved mappings."""
    path = saved_upload(data, name)
    try:
        mapping = mapping_from_text(mapping_text, source="mapping") if mapping_text else None
        saved = tuple(mapping_from_text(text, source=label) for label, text in saved_texts)
        return prepare_import(path, name=name, table=table, mapping=mapping, settings=settings, saved=saved)
    except FunnelError as exc:
        return exc
    finally:
        path.unlink(missing_ok=True)


def mapping_error(text: str, *, source: str) -> FunnelError | None:
    """Why an uploaded mapping's TOML cannot be used, or None when it is a valid mapping."""
    try:
        mapping_from_text(text, source=source)
    except FunnelError as exc:
        return exc
    return None


def upload_sample(data: bytes, name: str) -> pl.DataFrame | FunnelError:
    """The first rows of an upload, all as text, for the guided mapper (parsed by the worker)."""
    path = saved_upload(data, name)
    try:
        return pl.from_arrow(parse_untrusted(path, name=name).table).head(SAMPLE_ROWS)
    except FunnelError as exc:
        return exc
    finally:
        path.unlink(missing_ok=True)


def column_sources(prepared: PreparedImport) -> pl.DataFrame:
    """canonical column, from export column: where each canonical column of a prepared file came from."""
    return pl.DataFrame({"canonical column": list(prepared.source_columns),
                         "from export column": list(prepared.source_columns.values())})


def load_bundled_sample(con: duckdb.DuckDBPyConnection, folder: Path, files: Sequence[str], *, settings: Settings,
                        label: str) -> None:
    """Imports each of `files` found in `folder`, recorded under the mapping name `label`."""
    for name in files:
        path = folder / name
        if path.is_file():
            prepared = prepare_import(path, settings=settings)
            prepared.mapping_name = label
            write_import(con, prepared)
