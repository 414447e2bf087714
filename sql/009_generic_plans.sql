-- One plan per session for the statements inside the batch functions. Their
-- parameters are the batch's arrays, so PostgreSQL's plan cache (plan_cache_mode
-- auto) planned them again at every call while a generic plan did not look
-- cheaper than the custom ones, which for small batches is always. The plans
-- cannot differ anyway: the functions' own settings leave index lookups as the
-- only joins. At 500 orders/s across a town and the city, re-planning was 2 %
-- of PostgreSQL's CPU (BENCHMARKS §6 item 16). The trigger functions have no
-- parameters and were planned once already.
ALTER FUNCTION pls_batch(orders[], citizens[], events[], orders[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION pls_copies(events[], json) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION pls_forwards(json, json) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION pls_outbox(link_outbox[]) SET plan_cache_mode = force_generic_plan;
