"""The `uncertainty-seg` command: a thin layer over library functions."""
