"""Checkers for the notebooks' exercises: one module per notebook topic, each check raising
`AssertionError` with a hint on a wrong answer and printing a one-line confirmation on a right one."""
