## core/fuzz/local.mk -- libFuzzer targets, their replay drivers and make fuzz-resize.
