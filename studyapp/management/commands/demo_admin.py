import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

PASSWORD_FILE = settings.VAR_DIR / "demo-admin-password.txt"


class Command(BaseCommand):
    help = "Create the local demo admin account once (user 'admin') and print how to log in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="For the printed link.")

    def handle(self, *args, base_url: str, **options) -> None:
        User = get_user_model()
        if not PASSWORD_FILE.exists():
            PASSWORD_FILE.parent.mkdir(parents=True, exist_ok=True)
            PASSWORD_FILE.write_text(secrets.token_urlsafe(12) + "\n")
        password = PASSWORD_FILE.read_text().strip()
        user, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(password)
            user.save()
        self.stdout.write(
            f"Admin: {base_url}/admin/  user 'admin', password "
            f"'{password}' (kept in {PASSWORD_FILE})"
            + ("" if created else "; if you changed it since, use yours")
        )
