"""Tables, one module per group; importing this package registers them all."""
from suppression.models.accounts import (
    Account,
    AccountDomain,
    AccountStatus,
    ApiKey,
    Role,
)
from suppression.models.alerts import Alert, AlertStatus, Severity
from suppression.models.audit import AuditEntry
from suppression.models.bounces import SoftBounce
from suppression.models.counters import DailyCount
from suppression.models.events import Event, EventStatus, Outcome, Payload
from suppression.models.seeds import (
    Finding,
    FindingSeverity,
    Placement,
    Seed,
    SeedAssignment,
    SeedKind,
    SeedMessage,
    SeedOptOut,
    SeedStatus,
)
from suppression.models.sends import SendReport
from suppression.models.staff import StaffRole, StaffUser
from suppression.models.suppressions import Reason, Suppression

__all__ = [
    "Account", "AccountDomain", "AccountStatus", "Alert", "AlertStatus", "ApiKey", "AuditEntry", "DailyCount", "Event",
    "EventStatus", "Finding", "FindingSeverity", "Outcome", "Payload", "Placement", "Reason", "Role", "Seed", "SeedAssignment",
    "SeedKind", "SeedMessage", "SeedOptOut", "SeedStatus", "SendReport", "Severity", "SoftBounce", "StaffRole",
    "StaffUser", "Suppression",
]
