## core/qcow2.mk -- the qcow2 planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/qcow2.c core/image/qcow2.c
