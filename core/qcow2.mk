## core/qcow2.mk -- the qcow2 planner, engine, create path, their tests and benchmarks.

core_libinstar_la_SOURCES += \
	core/resize/qcow2.c core/resize/qcow2.h \
	core/resize/qcow2-header.c core/resize/qcow2-refcount.c \
	core/resize/qcow2-alloc.c core/resize/qcow2-grow.c \
	core/resize/qcow2-shrink.c \
	core/image/qcow2.c

QCOW2_TEST_LIB = tests/c/qcow2-testimg.c tests/c/qcow2-testimg.h \
	tests/c/qcow2-testutil.h tests/c/tap.h
FORMAT_C_TESTS += tests/c/test-qcow2-grow
check_PROGRAMS += tests/c/test-qcow2-grow
TESTS += tests/c/test-qcow2-grow
tests_c_test_qcow2_grow_SOURCES = tests/c/test-qcow2-grow.c $(QCOW2_TEST_LIB)
tests_c_test_qcow2_grow_LDADD = core/libinstar.la
