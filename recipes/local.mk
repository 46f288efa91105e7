## recipes/local.mk -- the runnable recipes and their tests.
