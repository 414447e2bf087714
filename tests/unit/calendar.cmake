# pls_calendar: working days, time limits and deploy/calendar/cn-holidays.csv.
pls_unit_test(test_pls_calendar SOURCES unit/test_pls_calendar.c LIBS pls)
if(TARGET test_pls_calendar)
  target_compile_definitions(test_pls_calendar PRIVATE PLS_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
