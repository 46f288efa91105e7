## core/vmdk.mk -- the vmdk planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/vmdk.c core/image/vmdk.c
