"""One reader per AWS service: the only code that reads an account for a check context or an inventory.

Each module holds the reader of one service (or of a few small ones) and the typed records it answers
with; `stackprobe.aws.account.Account` puts one of each together into a snapshot.
"""
