"""How long each kind of record is kept.

| kind | kept | why |
|---|---|---|
| location records | longest trip-card window + data delay = **15 days** (14 + 1) | the card of day D covers the window ending D−1; nothing older is ever on a card |
| trip cards | query dates in the last **15 days** | the card of day D is what D's holder sees; the health-code rule HC-R-0008 reads stored cards for 7 days after a stay |
| sealed phone numbers | while a record or a card of the phone exists | only needed to rebuild cards |
| sign-in / trip-card SMS codes | **15 minutes** after they were sent | rate limits count codes of the last 15 minutes; codes expire after 5 |
| holder and trip-card page sessions | until they expire | |
| e-certificate register rows | until **1 day** after the certificate expired, unless revoked | kept only to revoke the certificate; revoked rows stay (an SHC CRL's `ctr` counts them) |

The stay definition looks up to 72 h before a window's first day
(:class:`healthcode.trips.StayRule`): with the 7-day window in force since
2022-07-08, 15 days keep 7 + 1 + 3 = 11 days with room to spare; only a card of
the 14-day policies (before 2022-07-08) built after the sweep could miss the
beginning of a sparse stay that started more than a day before its window.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.holders.otp import OtpPolicy
from healthcode.trips.policy import PolicyBook, load_policies


@dataclass(frozen=True)
class RetentionPolicy:
    """Retention periods.

    :ivar location_records_days: records older than this many days (from ``at``) go.
    :ivar trip_cards_days: cards whose query date is more than this many Asia/Shanghai
        days before ``at``'s day go.
    :ivar otp_challenge_seconds: SMS codes sent more than this long ago go.
    :ivar e_certificate_grace_days: unrevoked e-certificate register rows go this many
        days after their certificate expired.
    """

    location_records_days: int = 15
    trip_cards_days: int = 15
    otp_challenge_seconds: int = 900
    e_certificate_grace_days: int = 1

    @classmethod
    def default(
        cls, policies: PolicyBook | None = None, otp: OtpPolicy | None = None
    ) -> RetentionPolicy:
        """Periods derived from the trip-card policies (longest window + delay) and the
        sign-in limits (the longer of the rate window and the code lifetime)."""
        book = policies or load_policies()
        days = max(p.window_days + p.delay_days for p in book.policies)
        o = otp or OtpPolicy()
        return cls(
            location_records_days=days,
            trip_cards_days=days,
            otp_challenge_seconds=max(o.rate_window_seconds, o.code_ttl_seconds),
        )
