"""`mlobs acceptance`: the stack checked from outside, through the backends' HTTP APIs."""
