"""What every page shares, one module per job: `store` (the database, its version, the active settings,
the cached funnel calls), `sidebar` (the URL-bound filters and the routing of deep links), `uploads`
(checking and mapping uploaded exports), `widgets` (tables, downloads, pickers, messages) and the render
helpers of the larger pages (`handoff`; `review`: the monthly review and the handoff review sample).

Data values reach the screen only through dataframes, charts and plain text, never inside markdown:
labels and messages here are our own words. Streamlit's router (app.py) lists the pages, so this folder
is never mistaken for one."""
