"""Repairs: the plan, the policy, strategies, typed steps, the executor, its journal and quarantine."""
