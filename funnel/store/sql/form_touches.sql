-- Grain: one row per form and known lead, for the forms submitted before $until (the form is the
-- lower-cased URL path, query dropped, of a form submission): when the lead first submitted it and when
-- it first viewed its page (first_submit, first_view; null when it did not before $until).
-- The firsts are causal (the first submission before D is the first one overall when that came before D),
-- so the lead model keeps one run to its horizon (model_form_touches) and form_funnels.sql cuts it at D.
-- Relations: {activities}.
-- Params: $forms (activity types that submit a form), $views (page-view types), $until (the first moment
-- after the last day read).
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
    select t.lead_id, list_contains($forms, t.activity_type) as submits, p.form, t.occurred_at
    from touches as t
    join paths as p on p.url = t.url
),

final as (
    select form, lead_id,
           min(occurred_at) filter (where submits) as first_submit,
           min(occurred_at) filter (where not submits) as first_view
    from keyed
    where form in (select form from keyed where submits)
    group by form, lead_id
)

select * from final
