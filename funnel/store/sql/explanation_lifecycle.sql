-- One lead's lifecycle entries up to D, as rows of its stage explanation (funnel/model/stages.py):
-- its dated lifecycle stage events, else (when the log never mentions the lead) its current
-- lifecycle value placed at its creation.
-- Grain: one row per lifecycle entry of the lead. Columns: row_id ('current value' for the
-- undated one, else null), what, at, detail.
-- Params: $lead (the lead id), $until (the first moment after day D).
with

logged as (
    select cast(null as varchar) as row_id, 'lifecycle ' || stage as what, entered_at as at, reason as detail
    from stage_events
    where lead_id = $lead and coalesce(ladder, 'lifecycle') = 'lifecycle'
      and entered_at < $until
),

current_value as (
    select 'current value' as row_id, 'lifecycle ' || lifecycle_stage as what, created_at as at,
           'the current lifecycle value (no dated stage event): placed at the lead''s creation' as detail
    from leads
    where lead_id = $lead and created_at < $until and lifecycle_stage is not null
      and not exists (select 1 from stage_events
                      where lead_id = $lead and coalesce(ladder, 'lifecycle') = 'lifecycle')
),

final as (
    select * from logged
    union all select * from current_value
)

select * from final
