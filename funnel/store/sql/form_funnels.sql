-- Grain: one row per form (the lower-cased URL path, query dropped, of form submissions), counting
-- known leads only: viewers (leads with a page view on that path), submitters, and viewers who
-- submitted at or after their first view. Relations: {activities}.
-- Params: $forms (activity types that submit a form), $views (page-view types), $until (end of day D).
with

touches as (
    select lead_id, activity_type, url, occurred_at
    from {activities}
    where url is not null
      and lead_id is not null
      and occurred_at < $until
      and (list_contains($forms, activity_type) or list_contains($views, activity_type))
),

-- Each distinct URL's form, worked out once per URL, not once per touch (a site has few URLs, a lead
-- history many touches).
paths as (
    select url, regexp_replace(lower(trim(url)), '[?#].*$', '') as form
    from (select distinct url from touches) as urls
),

keyed as (
    select t.lead_id, t.activity_type, p.form, t.occurred_at
    from touches as t
    join paths as p on p.url = t.url
),

submits as (
    select form, lead_id, min(occurred_at) as first_submit
    from keyed
    where list_contains($forms, activity_type)
    group by form, lead_id
),

views as (
    select form, lead_id, min(occurred_at) as first_view
    from keyed
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
