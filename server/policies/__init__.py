"""AI policies: versions, publication by a named approver, acknowledgements and reminders."""
