"""What a lost link's page shows about a reclaim email: the thread, the templates, a preview or why not."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.config import Settings
from outreach.mail import reclaim_email as reclaim
from outreach.mail.mailboxes import MailError
from outreach.mail.render import Rendered
from outreach.mail.unsubscribe import signing_secret
from outreach.models import Backlink
from outreach.models.mail import Message, Template


@dataclass
class ReclaimPanel:
    #: why nothing can be sent now (None: the form is offered)
    refusal: str | None
    #: the message the reclaim email would answer
    thread: Message | None
    #: the reclaim email already made for this loss
    existing: Message | None
    templates: list[Template] = field(default_factory=list)
    chosen: int | None = None
    preview: Rendered | None = None
    error: str | None = None


def reclaim_panel(session: Session, backlink: Backlink, settings: Settings,
                  template_id: int | None = None) -> ReclaimPanel | None:
    """None unless the link is lost."""
    if backlink.status != "lost":
        return None
    existing = reclaim.existing_reclaim(session, backlink)
    thread = reclaim.last_sent(session, backlink.prospect_id) if backlink.prospect_id else None
    panel = ReclaimPanel(refusal=reclaim.refusal(session, backlink), thread=thread, existing=existing,
                         templates=list(session.scalars(select(Template).order_by(Template.name))),
                         chosen=template_id)
    if panel.refusal is None and template_id:
        template = session.get(Template, template_id)
        if template is None:
            panel.error = "choose an existing template"
        else:
            try:
                panel.preview = reclaim.render_reclaim(session, backlink, template, settings,
                                                       signing_secret(settings))
            except MailError as exc:
                panel.error = str(exc)
    return panel
