"""Cards and their lifecycle (the lifecycle engine issue)."""
