# Time limits, supervision and citizen feedback (issue 4, DESIGN §9; docs/RULES.md): real
# PostgreSQL, pls-broker --test-clock, pls-worker and plsctl; every rule is run on a rule clock
# moved with `plsctl clock`, no test sleeps for real hours. Helpers in
# tests/integration/test_rules_lib.sh (sourced, not a test). Label integration; every test has
# a TIMEOUT.
#
# Working days across 国庆 and the 调休 Saturdays, calendar days, urgent 签收, a year without data.
pls_shell_test(test_rules_calendar integration/test_rules_calendar.sh TIMEOUT 150)
# 签收 limit: yellow at 80 %, red at the due time, supervised + record, reported; failed → 督办.
pls_shell_test(test_rules_sign_limit integration/test_rules_sign_limit.sh TIMEOUT 180)
# 一次告知's paused clock: due times move by the paused time; 15 days without a supplement.
pls_shell_test(test_rules_pause integration/test_rules_pause.sh TIMEOUT 180)
# 延期: approved inside the limit, refused after it, refused for statutory limits, ≤ 15 wd.
pls_shell_test(test_rules_extension integration/test_rules_extension.sh TIMEOUT 180)
# 一次告知: a second need-info held, refused (the step continues), then approved (sent, counted).
pls_shell_test(test_rules_need_info integration/test_rules_need_info.sh TIMEOUT 180)
# 回访: low rating → redo (queued again) or closed; unrated closed after 7 days by the sweep.
pls_shell_test(test_rules_rating integration/test_rules_rating.sh TIMEOUT 240)
# 投诉: routed by --subject, else by the service of the order named by --about; listed there.
pls_shell_test(test_rules_complaint integration/test_rules_complaint.sh TIMEOUT 180)
# A city and two towns: status yellow/red/supervised per node = the scenario = the databases.
pls_shell_test(test_rules_fed_status integration/test_rules_fed_status.sh TIMEOUT 300)
pls_shell_test(test_rules_extend_handler integration/test_rules_extend_handler.sh TIMEOUT 180)
pls_shell_test(test_rules_pause_durable integration/test_rules_pause_durable.sh TIMEOUT 180)
pls_shell_test(test_rules_rating_retry integration/test_rules_rating_retry.sh TIMEOUT 180)
