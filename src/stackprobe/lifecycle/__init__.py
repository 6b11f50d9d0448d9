"""The lifecycle core: from settings to a deployed stack and back, and who owns each step.

A `Run` (run.py) owns the emulator it starts and the process environment it pins; the stacks it creates
own their workspace, plans, deployment and ending (stack.py); a live session keeps a stack between runs
(live.py); `verify` (verify.py) is the whole verification the CLI runs; `parity` compares two emulators;
plans are kept by digest (digest.py, plan_store.py); `external` stops terraform early when the stack
keeps asking for something it does not create.
"""
