## core/vhdx.mk -- the vhdx planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/vhdx.c core/image/vhdx.c
