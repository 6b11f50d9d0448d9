"""Mutation testing for checks: plant one known defect, and a check must fail on it."""
