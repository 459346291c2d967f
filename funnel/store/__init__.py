"""The DuckDB file: connections and the one identifier-quoting helper, the one SQL-file loader with every
query in `sql/`, what the store holds and its import history (with who imported and removed),
saved settings versions and per-person drafts, the server's data folder of databases by name. May import the
foundation only."""
