"""The REST API v1 for partner banks (/api/v1/): applications, production, hand-over, status,
events. Thin: validate, build the bank's Actor, call one service, render."""
