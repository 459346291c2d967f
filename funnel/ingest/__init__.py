"""Exports in, canonical rows out: readers and the parse worker, mappings and the guided-mapper guesses,
vendor presets, the transactional importer and the sample generator. May import the store and the foundation."""
