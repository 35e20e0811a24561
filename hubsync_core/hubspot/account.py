"""The portal behind the token: account details, what the token may do, the daily API budget."""

from __future__ import annotations

import logging

from . import endpoints
from .errors import BadRequestError, HubSpotError, MissingScopesError
from .models import AccountDetails, ApiUsage, TokenInfo
from .parsing import as_int, as_str, dicts
from .transport import Transport

log = logging.getLogger("hubsync.hubspot")


class AccountEndpoints(Transport):
    """`account_details`, `token_info` and `api_usage`."""

    def account_details(self) -> AccountDetails:
        """Portal id, time zone, hosting location and the current rate-limit status."""
        data = self._request("GET", endpoints.ACCOUNT_DETAILS)
        portal = data.get("portalId")
        if portal is None or isinstance(portal, (dict, list, bool)):
            raise HubSpotError("HubSpot's account details carried no portalId")
        return AccountDetails(
            portal_id=str(portal),
            time_zone=as_str(data.get("timeZone")),
            data_hosting_location=as_str(data.get("dataHostingLocation")),
            account_type=as_str(data.get("accountType")),
            rate_limit=self.rate_limit,
        )

    def token_info(self) -> TokenInfo:
        """The portal and scopes of this client's token.

        Service keys and private-app tokens answer the private-apps endpoint (token in the
        body); OAuth access tokens answer the OAuth one. Raises `BadRequestError` when
        neither knows the token.
        """
        try:
            data = self._request(
                "POST", endpoints.TOKEN_INFO, body={"tokenKey": self._token.reveal()}
            )
            kind = "service key or private app"
            hub, app, user = data.get("hubId"), data.get("appId"), data.get("userId")
        except (BadRequestError, MissingScopesError) as first:
            log.debug("private-app token info refused (%s); trying OAuth", first.status)
            try:
                path = endpoints.OAUTH_TOKEN_INFO_PREFIX + endpoints.quote_segment(
                    self._token.reveal()
                )
                data = self._request("GET", path)
            except (BadRequestError, MissingScopesError):
                raise first from None
            kind = "OAuth"
            hub, app, user = data.get("hub_id"), data.get("app_id"), data.get("user_id")
        scopes = data.get("scopes")
        names = (
            [str(s) for s in scopes if isinstance(s, str) and s] if isinstance(scopes, list) else []
        )
        return TokenInfo(
            kind=kind,
            hub_id=as_str(hub),
            app_id=as_str(app),
            user_id=as_str(user),
            scopes=tuple(sorted(set(names))),
        )

    def api_usage(self) -> ApiUsage | None:
        """Today's API calls and limit for the portal (None where the token may not read it)."""
        try:
            data = self._request("GET", endpoints.API_USAGE_DAILY)
        except (BadRequestError, MissingScopesError):
            return None
        for item in dicts(data.get("results")):
            limit, used = as_int(item.get("usageLimit")), as_int(item.get("currentUsage"))
            if limit is not None and used is not None:
                return ApiUsage(limit=limit, used=used, resets_at=as_str(item.get("resetsAt")))
        return None
