## core/vmdk.mk -- the vmdk planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += core/resize/vmdk.c core/image/vmdk.c
core_libinstar_la_SOURCES += core/resize/vmdk.h core/resize/vmdk-header.c \
	core/resize/vmdk-desc.c
core_libinstar_la_SOURCES += core/image/vmdk-create.c core/image/vmdk-create.h
