-- What a dashboard run is keyed by, read at once: the parts of the data version, the newest saved settings
-- and one person's unsaved draft.
-- Grain: one row. Columns: newest_import, removed_imports, newest_version, saved_toml, draft_toml.
-- Params: $author (whose draft is read; null reads none).
with

imported as (
    select coalesce(max(import_id), 0) as newest_import, count(removed_at) as removed_imports
    from imports
),

saved as (
    select coalesce(max(version), 0) as newest_version, arg_max(toml, version) as saved_toml
    from settings_versions
),

draft as (
    select any_value(toml) as draft_toml
    from settings_drafts
    where author = $author
),

final as (
    select imported.*, saved.*, draft.*
    from imported, saved, draft
)

select * from final
