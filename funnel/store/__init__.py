"""The DuckDB file: connections and the one identifier-quoting helper, the one SQL-file loader with every
query in `sql/`, what the store holds and its import history, saved settings versions. May import the foundation only."""
