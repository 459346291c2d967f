-- Grain: one row per form (the lower-cased URL path, query dropped, of form submissions), counting
-- known leads only: viewers (leads with a page view on that path), submitters, and viewers who
-- submitted at or after their first view. Relations: {activities}.
-- Params: $forms (activity types that submit a form), $views (page-view types), $until (end of day D).
with

touches as (
    select lead_id, activity_type, regexp_replace(lower(trim(url)), '[?#].*$', '') as form, occurred_at
    from {activities}
    where url is not null
      and lead_id is not null
      and occurred_at < $until
),

submits as (
    select form, lead_id, min(occurred_at) as first_submit
    from touches
    where list_contains($forms, activity_type)
    group by form, lead_id
),

views as (
    select form, lead_id, min(occurred_at) as first_view
    from touches
    where list_contains($views, activity_type)
      and form in (select form from submits)
    group by form, lead_id
),

final as (
    select coalesce(s.form, v.form) as form,
           count(v.lead_id) as viewers,
           count(s.lead_id) as submitters,
           count(*) filter (where v.first_view <= s.first_submit) as viewed_then_submitted
    from submits as s
    full outer join views as v on v.form = s.form and v.lead_id = s.lead_id
    group by 1
)

select * from final
