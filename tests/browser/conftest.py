"""The browser tests use the mail tests' real servers (aiosmtpd, Dovecot) too."""
from tests.mail.conftest import dovecot, imap_server, job_context, smtp_sink  # noqa: F401 (fixtures)
