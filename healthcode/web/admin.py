"""The admin page: issuers and keys, the rule set, imports, the development SMS outbox.

Location-record imports (``trips import``) have their own table: per import the
data rows read, the records stored (new), the exact duplicate rows dropped and the
records already stored by an earlier import — the counts of the CLI's import
report, so ``rows = stored + duplicates + already stored``.

Local mode: open, and labelled "local development". Production mode
(``settings.is_prod``): requires ``Authorization: Bearer <HEALTHCODE_ADMIN_TOKEN>``;
without a configured token the page is closed to everyone.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse

from healthcode.holders.otp import recent_outbox
from healthcode.trips import store as trip_store
from healthcode.web.context import NO_STORE, page, state
from healthcode.web.errors import PAGE_TAG, AdminTokenRequired

router = APIRouter()


def check_admin(request: Request) -> None:
    """:raises AdminTokenRequired: production mode without the right bearer token."""
    settings = state(request).settings
    if not settings.is_prod:
        return
    expected = settings.admin_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode(), expected.encode())
    ):
        raise AdminTokenRequired("the admin page needs Authorization: Bearer <admin token>")


@router.get("/admin", tags=[PAGE_TAG], response_class=HTMLResponse)
def admin_page(request: Request) -> HTMLResponse:
    check_admin(request)
    st = state(request)
    overview = st.service.admin_overview()
    with st.service.db.read() as s:
        outbox = [
            {"created_at": m.created_at, "recipient": m.recipient, "body": m.body}
            for m in recent_outbox(s, limit=50)
        ]
        # location-record imports have their own table, with the counts of the CLI's report
        trip_imports = trip_store.recent_imports(s, limit=50)
    overview = {
        **overview,
        "imports": [i for i in overview["imports"] if i["kind"] != trip_store.IMPORT_KIND],
    }
    return page(
        request, "admin.html", overview=overview, outbox=outbox, trip_imports=trip_imports,
        headers=NO_STORE,
    )  # fmt: skip
