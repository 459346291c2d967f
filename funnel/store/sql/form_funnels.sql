-- Grain: one row per form submitted by the end of day D (the lower-cased URL path, query dropped, of form
-- submissions), counting known leads only: viewers (leads with a page view on that path), submitters, and
-- viewers who submitted at or after their first view.
-- Fragments: @form_touches (each form's and lead's first submission and first view: form_touches.sql, or
-- the lead model's stored run of it).
-- Params: $until (end of day D), and those of the form touches' text.
with

touches as (
/*@form_touches*/
),

submits as (
    select form, lead_id, first_submit
    from touches
    where first_submit < $until
),

views as (
    select form, lead_id, first_view
    from touches
    where first_view < $until
      and form in (select form from submits)
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
