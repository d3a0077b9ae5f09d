"""The governed side: triage of the draft inventory, the AI register, reviews, audit trail."""
