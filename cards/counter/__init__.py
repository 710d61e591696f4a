"""The clerks' counter: one of the service's four rooms (beside cards/api/, cards/public/ and the
scheduler's cards/tasks.py).

- scope.py: the desk a request acts from (user → staff → point → role) and what it may see;
- search.py: what the clerk typed, recognised and looked up by one indexed read;
- views.py / forms.py: the counter's pages, each calling one service in cards/services.py;
- admin.py: the card admin (lists, the card page, the dashboard), registered by cards/admin.py.
"""
