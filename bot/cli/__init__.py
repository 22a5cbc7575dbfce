"""Command line: `newsbot run | check | match | explain | eval | status | ...`.

Contract: parse arguments, call the same functions the service calls, print, and return the exit
code the README's table promises. Heavy modules are imported inside the command that needs them,
so `newsbot --help` stays fast.
"""
