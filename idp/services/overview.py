"""What the admin console's dashboard shows: counts, and sign-ins over the last day."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select

from ..clock import now
from ..extensions import db
from ..models import AuditEvent, Client, LoginSession, Organization, User

SIGN_INS = ("login.success",)
FAILURES = ("login.failure", "login.second_factor_failed", "login.lockout")
HOURS = 24


def counts() -> dict[str, int]:
    return {
        "users": _count(User), "disabled": _count(User, User.disabled.is_(True)),
        "admins": _count(User, User.admin.is_(True)), "organizations": _count(Organization),
        "clients": _count(Client),
        "sessions": _count(LoginSession, LoginSession.ended_at.is_(None),
                           LoginSession.expires_at > now()),
    }


def _count(model: type, *where: ColumnElement[bool]) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    count: int
    hour: str  # "14:00" UTC, the hour the bar ends


@dataclass(frozen=True)
class Chart:
    """Two series of hourly bars in a ``width`` by ``height`` SVG, drawn by the template."""

    sign_ins: list[Bar]
    failures: list[Bar]
    peak: int
    total_sign_ins: int
    total_failures: int
    width: int = 480
    height: int = 120
    bar: float = 8.0


def per_hour(tags: tuple[str, ...], until: int) -> list[int]:
    """Events with these tags in each of the last ``HOURS`` hours before ``until``."""
    since = until - HOURS * 3600
    counts = [0] * HOURS
    for at in db.session.scalars(select(AuditEvent.at).where(
            AuditEvent.tag.in_(tags), AuditEvent.at > since, AuditEvent.at <= until)):
        counts[min(HOURS - 1, (at - since - 1) // 3600)] += 1
    return counts


def sign_in_chart(until: int) -> Chart:
    ins, fails = per_hour(SIGN_INS, until), per_hour(FAILURES, until)
    peak = max([*ins, *fails, 1])
    chart = Chart([], [], peak, sum(ins), sum(fails))
    slot = chart.width / HOURS
    for i, (a, b) in enumerate(zip(ins, fails, strict=True)):
        hour = time.strftime("%H:00", time.gmtime(until - (HOURS - 1 - i) * 3600))
        for series, value, offset in ((chart.sign_ins, a, 1.0), (chart.failures, b, 2 + chart.bar)):
            height = value / peak * (chart.height - 4)
            series.append(Bar(x=round(i * slot + offset, 1),
                              y=round(chart.height - height, 1), height=round(height, 1),
                              count=value, hour=hour))
    return chart
