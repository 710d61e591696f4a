"""The public status page (/status/): a citizen looks up their own card (issue 7)."""
