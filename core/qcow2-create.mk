## core/qcow2-create.mk -- qcow2 create, the qcow2 integration matrix against qemu-img,
## crash-prefix checks and qcow2 engine benchmarks.

core_libinstar_la_SOURCES += core/image/qcow2-create.c core/image/qcow2-create.h
core_libinstar_la_SOURCES += core/image/qcow2-create-layout.c core/image/qcow2-create-layout.h

# Integration tests against qemu-img (TAP, tests/lib.sh).
QCOW2_CREATE_SH_TESTS = tests/qcow2-create-vs-qemu.sh
TESTS += $(QCOW2_CREATE_SH_TESTS)
EXTRA_DIST += $(QCOW2_CREATE_SH_TESTS) tests/qcow2-lib.sh
