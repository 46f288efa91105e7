## core/vpc.mk -- the vpc planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/vhd.c core/resize/vhd.h \
	core/resize/vhd-footer.c core/image/vpc.c
