## core/qcow2-create.mk -- qcow2 create, the qcow2 integration matrix against qemu-img,
## crash-prefix checks and qcow2 engine benchmarks.

core_libinstar_la_SOURCES += core/image/qcow2-create.c core/image/qcow2-create.h
