"""All tables. Each part of the product keeps its tables in its own module here."""
from __future__ import annotations

from outreach.db import Base
from outreach.models import url_search  # noqa: F401  (registers the search index with create_all)
from outreach.models.accounts import ApiToken, AuditLog, LoginSession, User
from outreach.models.analytics import AnalyticsConnection, ReferralTraffic
from outreach.models.backlinks import (
    Backlink,
    BacklinkCheck,
    BacklinkEvent,
    ClientLinkSettings,
    ReportDelivery,
    ReportShare,
)
from outreach.models.campaigns import (
    PIPELINE_STAGES,
    STAGE_EXITS,
    STAGES,
    Activity,
    Campaign,
    Client,
    Contact,
    Opportunity,
    Prospect,
    Site,
    Suppression,
    Tag,
)
from outreach.models.crawl import CrawlFinding, CrawlJob
from outreach.models.health import SchedulerHeartbeat, TickStat
from outreach.models.mail import (
    CampaignMail,
    Enrollment,
    InboundMessage,
    Mailbox,
    Message,
    Sequence,
    SequenceStep,
    StepVariant,
    Template,
)
from outreach.models.notifications import Notification
from outreach.models.prospecting import Asset, ProspectingRun
from outreach.models.stage_counts import CampaignStageCount, StageCountChange  # (and its triggers, with create_all)
from outreach.models.webhooks import Webhook, WebhookAttempt, WebhookDelivery
from outreach.models.workspace import WorkspaceSettings

__all__ = [
    "PIPELINE_STAGES",
    "STAGES",
    "STAGE_EXITS",
    "Activity",
    "AnalyticsConnection",
    "ApiToken",
    "Asset",
    "AuditLog",
    "Backlink",
    "BacklinkCheck",
    "BacklinkEvent",
    "Base",
    "Campaign",
    "CampaignMail",
    "CampaignStageCount",
    "Client",
    "ClientLinkSettings",
    "Contact",
    "CrawlFinding",
    "CrawlJob",
    "Enrollment",
    "InboundMessage",
    "LoginSession",
    "Mailbox",
    "Message",
    "Notification",
    "Opportunity",
    "Prospect",
    "ProspectingRun",
    "ReferralTraffic",
    "ReportDelivery",
    "ReportShare",
    "SchedulerHeartbeat",
    "Sequence",
    "SequenceStep",
    "Site",
    "StageCountChange",
    "StepVariant",
    "Suppression",
    "Tag",
    "Template",
    "TickStat",
    "User",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WorkspaceSettings",
]
