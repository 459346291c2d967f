"""What is derived per lead from the canonical tables: the lifecycle ladder, the funnel-stage engine, lead
facts and dimensions, scoring (fit, intent, tags, quadrant, next action) and the matrix. May import the store and the foundation."""
