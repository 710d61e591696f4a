"""The idle timeout of staff sessions."""

import time

from django.conf import settings
from django.contrib.auth import logout

LAST_ACTIVITY_SESSION_KEY = "accounts_last_activity"


class IdleTimeoutMiddleware:
    """End a logged-in session that made no request for SESSION_IDLE_MINUTES (MLPS 2.0 level 3:
    sessions time out). Each request restarts the clock (a sliding timeout); the timestamp is in
    the session itself, so the rule holds whatever stores sessions. After AuthenticationMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                request.idle_timeout = True  # the login log says why (accounts/receivers.py)
                logout(request)
            else:
                request.session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)
