"""The admin site of the back office: nobody reaches it on a password alone."""

from django.contrib.admin import AdminSite

from accounts.forms import StaffLoginForm


class StaffAdminSite(AdminSite):
    """django.contrib.admin's site (it is `admin.site`, accounts.apps.StaffAdminConfig) that
    lets in only a user whose session was verified by their second factor at login
    (django_otp's OTPMiddleware sets `request.user.is_verified()`). A session opened any other
    way, even by a superuser, sees the login page."""

    login_form = StaffLoginForm
    login_template = "admin/accounts/login.html"

    def has_permission(self, request):
        user = request.user
        return (
            super().has_permission(request)
            and callable(getattr(user, "is_verified", None))
            and user.is_verified()
        )
