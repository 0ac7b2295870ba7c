"""The audit log: who did what to which object, and when (written in the caller's
transaction, so an action and its entry commit together)."""
