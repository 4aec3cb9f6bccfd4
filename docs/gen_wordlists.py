"""Generate the scanner's wordlists (``src/cacheward/scan/wordlists/*.txt``).

The lists are the project's own, built here from names everyone can read: the HTTP
field names of the IANA "Hypertext Transfer Protocol (HTTP) Field Name Registry"
(RFC 9110 section 16.3.1), the request headers CDNs, load balancers and frameworks
document (AWS, Azure, Cloudflare, Fastly, Akamai, Google Cloud, Vercel, Netlify, Heroku,
nginx, Envoy, Istio, IIS, Rails, Django, Spring, Symfony), and then the combinations
real deployments invent: a vendor or role prefix (``X-Forwarded-``, ``X-Original-``,
``X-Backend-`` ...) before a common noun (``Host``, ``Url``, ``Lang`` ...). Parameters are
common API words in the spellings frameworks use (``user_id``, ``userId``, ``user-id``),
tracking parameters of ad platforms and the JSONP callback names of JS libraries.
No third-party wordlist is copied. Run after changing a source list::

    uv run python docs/gen_wordlists.py

``tests/scan/test_scan_wordlists.py`` fails when the files are out of date, and checks
that they stay at least as large as Web-Cache-Vulnerability-Scanner 2.0's
(2,921 headers, 6,452 parameters).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "cacheward" / "scan" / "wordlists"

#: Request fields of the IANA registry and well-known non-registered ones.
STANDARD = """
Accept Accept-Charset Accept-Datetime Accept-Encoding Accept-Features Accept-Language
Accept-Patch Accept-Post Accept-Ranges Accept-Signature Access-Control-Request-Headers
Access-Control-Request-Method A-IM ALPN Alt-Used Authorization Cache-Control CDN-Loop
Client-Cert Client-Cert-Chain Content-Digest Content-Encoding Content-Language
Content-Location Content-MD5 Content-Type Cookie Cookie2 Date Device-Memory Digest DNT
Downlink DPR Early-Data ECT Expect Forwarded From Front-End-Https HTTP2-Settings If
If-Match If-Modified-Since If-None-Match If-Range If-Schedule-Tag-Match
If-Unmodified-Since Max-Forwards Origin Pragma Prefer Priority Proxy-Authorization
Purpose Range Referer Referrer-Policy RTT Save-Data Sec-CH-Prefers-Color-Scheme
Sec-CH-Prefers-Reduced-Motion Sec-CH-UA Sec-CH-UA-Arch Sec-CH-UA-Bitness
Sec-CH-UA-Full-Version Sec-CH-UA-Full-Version-List Sec-CH-UA-Mobile Sec-CH-UA-Model
Sec-CH-UA-Platform Sec-CH-UA-Platform-Version Sec-Fetch-Dest Sec-Fetch-Mode
Sec-Fetch-Site Sec-Fetch-User Sec-GPC Sec-Purpose Sec-WebSocket-Extensions
Sec-WebSocket-Key Sec-WebSocket-Protocol Sec-WebSocket-Version Service-Worker
Service-Worker-Navigation-Preload Signature Signature-Input SLUG Surrogate-Capability
TE Timing-Allow-Origin Topic Traceparent Tracestate Trailer Upgrade
Upgrade-Insecure-Requests Urgency User-Agent Via Viewport-Width Want-Digest Warning Width
Base-Url Http-Url Proxy-Host Proxy-Url Real-Ip Redirect Referrer Request-Uri Uri Url
Destination Overwrite Depth Lock-Token Timeout Ordered-Ignore Position Label Ping-From
Ping-To Last-Event-ID Client-IP True-Client-IP Fastly-Client-IP CF-Connecting-IP
CF-IPCountry CF-Ray CF-Visitor CF-Worker CF-Device-Type CF-Access-Client-Id
Akamai-Origin-Hop Fastly-SSL Fastly-FF Fastly-Debug Fastly-Orig-Host X-Akamai-Edge-Auth
CloudFront-Viewer-Country CloudFront-Is-Mobile-Viewer CloudFront-Is-Desktop-Viewer
CloudFront-Is-Tablet-Viewer CloudFront-Forwarded-Proto CloudFront-Viewer-Address
X-Amz-Cf-Id X-Amzn-Trace-Id X-Amz-Date X-Amz-Security-Token X-Amz-Content-Sha256
X-Amz-Website-Redirect-Location X-Azure-ClientIP X-Azure-SocketIP X-Azure-Ref X-Azure-FDID
X-FD-HealthProbe X-ARR-ClientCert X-ARR-SSL X-Original-Host X-Waws-Unencoded-Url
X-Appengine-Country X-Appengine-City X-Appengine-Region X-Cloud-Trace-Context
X-Goog-Authenticated-User-Email X-Serverless-Authorization X-Vercel-Forwarded-For
X-Vercel-Ip-Country X-Vercel-Deployment-Url X-Nf-Client-Connection-Ip X-Nf-Geo
X-Heroku-Queue-Wait-Time X-Request-Start X-Envoy-Original-Path X-Envoy-External-Address
X-Envoy-Internal X-Envoy-Decorator-Operation X-Envoy-Expected-Rq-Timeout-Ms
X-B3-TraceId X-B3-SpanId X-B3-ParentSpanId X-B3-Sampled X-B3-Flags B3 X-Ot-Span-Context
X-Datadog-Trace-Id X-Datadog-Parent-Id X-Newrelic-Id Newrelic X-Correlation-Id
X-Request-Id X-Csrf-Token X-Csrftoken X-Xsrf-Token X-Requested-With X-Requested-By
X-Pjax X-Pjax-Container X-Inertia X-Inertia-Version X-Livewire X-Turbo-Request-Id
Turbo-Frame X-Up-Target X-Up-Version X-Http-Method-Override X-Http-Method
X-Method-Override X-Original-Method X-Forwarded-Method X-Operamini-Phone-Ua
X-Operamini-Features X-Att-Deviceid X-Wap-Profile Wap-Profile X-Nokia-Gateway-Id
X-Up-Devcap-Post-Charset X-Ucbrowser-Ua X-Device-User-Agent X-Original-User-Agent
X-Skyfire-Phone X-Bolt-Phone-Ua Device-Stock-Ua X-Purpose X-Moz X-Dns-Prefetch-Control
X-Do-Not-Track X-Att-Dnt X-Middleware-Prefetch X-Middleware-Subrequest
X-Nextjs-Data X-Now-Route-Matches Next-Router-State-Tree Next-Router-Prefetch Next-Url
Rsc X-Sveltekit-Action X-Remix-Response X-Ms-Client-Principal X-Ms-Client-Principal-Name
X-Ms-Client-Principal-Id X-Iisnode-Auth_User X-Original-Url X-Rewrite-Url X-Forwarded-For
X-Forwarded-Host X-Forwarded-Proto X-Forwarded-Port X-Forwarded-Server X-Forwarded-Scheme
X-Forwarded-Prefix X-Forwarded-Path X-Forwarded-Uri X-Forwarded-Ssl X-Forwarded-By
X-Forwarded-Protocol X-Forwarded-Client-Cert X-Real-Ip X-Host X-Http-Host-Override
X-Url-Scheme X-Scheme X-ProxyUser-Ip X-Cluster-Client-Ip X-Client-Ip X-Originating-Ip
X-Remote-Ip X-Remote-Addr X-Remote-User X-Remote-Group X-Forwarded-User
X-Forwarded-Email X-Forwarded-Preferred-Username X-Forwarded-Groups X-Forwarded-Access-Token
X-Auth-Request-User X-Auth-Request-Email X-Auth-Request-Access-Token X-Auth-User
X-Auth-Token X-Access-Token X-Api-Key X-Api-Token X-Api-Version Api-Version Accept-Version
X-Version X-Client-Version X-App-Version X-Build X-Platform X-Device X-Device-Type
X-Country X-Country-Code X-Geo-Country X-Region X-City X-Locale X-Language X-Lang
X-Timezone X-Currency X-Tenant X-Tenant-Id X-Org-Id X-Account-Id X-Site X-Store
X-Brand X-Theme X-Debug X-Debug-Token X-Debug-Mode X-Trace X-Test X-Feature
X-Feature-Flags X-Experiment X-Ab-Test X-Variant X-Preview X-Draft X-Mode X-Env
X-Environment X-Backend X-Backend-Server X-Origin X-Upstream X-Bypass-Cache
X-Cache-Bypass X-No-Cache X-Cache-Key X-Cache-Control X-Surrogate-Key Surrogate-Control
X-Esi X-Accel-Redirect X-Accel-Buffering X-Sendfile X-Sendfile-Type X-Lighttpd-Send-File
X-Http-Destinationurl X-Proxy-Url X-Proxy-Host X-Custom-Ip-Authorization X-Wap-Network-Client-Ip
Content-Length Connection Keep-Alive Proxy-Connection Host Transfer-Encoding
"""

#: Prefixes deployments put before a noun (roles of a hop, vendors, apps).
PREFIXES = """
X- X-Forwarded- X-Original- X-Originating- X-Real- X-Client- X-Remote- X-Proxy-
X-Backend- X-Upstream- X-Origin- X-Edge- X-Cdn- X-Cache- X-Frontend- X-Gateway- X-Api-
X-App- X-Request- X-Custom- X-Internal- X-Debug- X-Override- X-Rewrite- X-User- X-Http-
X-Site-
"""

#: What a prefixed header names.
NOUNS = """
Host Hostname Domain Server Url Uri Path Prefix Base Base-Url Root Scheme Proto Protocol
Port Ssl Https Tls Ip Addr Address For By Via Ua User-Agent Agent Device Platform Os
Browser Mobile Lang Language Locale Country Region City Geo Timezone Tz Currency Tenant
Org Account Site Store Brand Theme Mode Env Format Version Api-Version Debug Trace Test
Token Auth Key Secret User Username Email Id Session Role Group Groups Scope Name
Method Action Route Target Destination Redirect Rewrite Location Referer Referrer Origin
Original-Url Forwarded Cache Cache-Key Cache-Control Backend Upstream Feature Flags
Experiment Variant Preview Config Layout Template View Callback Jsonp Encoding Charset
Content-Type Accept Request-Id Correlation-Id Trace-Id Span-Id Time Date Signature
"""

#: Common API parameter words.
WORDS = """
id uid uuid guid key name title slug type kind category tag tags label group team org
organization company tenant account user username login email mail phone mobile
address street city state zip zipcode postcode country region locale lang language
currency timezone tz date time datetime start end from to since until before after
year month day week hour page pages per_page perpage page_size pagesize limit offset
cursor next prev previous first last count size total max min sort order orderby
order_by sortby sort_by direction dir asc desc filter filters where query q search
term keyword keywords text s find lookup fields field select include exclude expand
embed with without only except view mode format fmt output type_id template theme
style layout skin color colour width height lat lng lon long latitude longitude
radius distance zoom scale ratio quality resolution image img picture photo avatar
icon logo file filename path dir folder url uri link href src source dest destination
target redirect redirect_uri redirect_url return return_to returnto return_url
returnurl continue next_url goto go back callback cb jsonp json xml html raw debug
test trace verbose dry_run dryrun preview draft version v ver api api_version build
release channel env environment stage platform os device client app application agent
browser ua ip host domain site origin referer referrer ref source_id campaign medium
content term gclid fbclid msclkid dclid yclid wbraid gbraid ttclid twclid li_fat_id
mc_cid mc_eid _ga _gl _hsenc _hsmi hsa_acc hsa_cam hsa_grp hsa_ad igshid si share
share_id token access_token auth auth_token session session_id sid csrf csrf_token
nonce state code scope grant_type response_type client_id client_secret secret
signature sig hash checksum digest timestamp ts expires expiry ttl nocache cache
cache_buster bust rand random r seed locale_id lang_id country_code currency_code
product product_id item item_id sku price amount qty quantity cart basket order_id
invoice invoice_id payment payment_id plan plan_id subscription coupon promo voucher
discount gift status state_id level role permission permissions admin is_admin
enabled disabled active visible hidden public private internal external feature
features flag flags experiment variant ab bucket cohort segment message msg comment
body description summary note notes data payload value values input content_type
encoding charset lang_code region_id store store_id shop shop_id brand brand_id
vendor vendor_id seller merchant partner affiliate aff aff_id affiliate_id promo_code
utm_source utm_medium utm_campaign utm_term utm_content utm_id utm_name utm_reader
utm_place utm_pubreferrer utm_swu utm_viz_id ga_source ga_medium ga_campaign
ga_content ga_term mkt_tok mkt trk trkid tracking tracking_id click_id clickid
pk_campaign pk_kwd pk_source pk_medium piwik_campaign piwik_kwd _branch_match_id
sc_campaign sc_channel sc_content sc_medium sc_outcome sc_geo sc_country
"""

#: Spellings and companions frameworks derive from a word.
SUFFIXES = ("", "_id", "Id", "_ids", "_name", "Name", "_type", "Type", "_url", "Url")

COOKIES = """
lang language locale country region currency timezone tz theme mode view layout skin
color_scheme dark_mode display format version v api_version ab ab_test experiment
variant bucket cohort segment feature features flags beta preview debug test device
platform mobile desktop tablet app client store shop site brand tenant org account
user user_id username uid guest visitor visitor_id returning first_visit consent
cookie_consent gdpr cookies_accepted tracking analytics referrer ref source campaign
utm utm_source affiliate aff partner promo coupon cart cart_id basket wishlist
recently_viewed compare location geo city zip postcode lat lng currency_code
country_code lang_code font_size accessibility high_contrast reduced_motion
redirect return_to next continue callback origin host domain path prefix base
cdn edge backend upstream server node shard route pool canary canary_version
deployment release channel stage env environment mode_override preferred_language
preferred_currency preferred_theme layout_mode sort order per_page page_size
"""


def _words(block: str) -> list[str]:
    return [w for w in re.split(r"\s+", block.strip()) if w]


def _camel(word: str) -> str:
    head, *rest = word.split("_")
    return head + "".join(p.title() for p in rest)


def headers() -> list[str]:
    names = _words(STANDARD)
    for prefix in _words(PREFIXES):
        names += [prefix + noun for noun in _words(NOUNS)]
    return _dedupe(names)


def params() -> list[str]:
    names: list[str] = []
    for word in _words(WORDS):
        for suffix in SUFFIXES:
            if suffix and word.endswith(("_id", "id", "_url", "url", "_name", "_type")):
                continue
            base = word + suffix if suffix.startswith("_") else _camel(word) + suffix
            names += [base]
            if "_" in base:
                names += [_camel(base), base.replace("_", "-"), base.replace("_", "")]
        names += [f"{word}[]", f"filter[{word}]", f"options[{word}]"]
    return _dedupe(names)


def cookies() -> list[str]:
    out = _words(COOKIES)
    return _dedupe(out + [_camel(w) for w in out if "_" in w])


def _dedupe(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def render(names: list[str], what: str) -> str:
    head = f"# cacheward {what} wordlist: generated by docs/gen_wordlists.py, do not edit\n"
    return head + "\n".join(names) + "\n"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in (("headers", headers), ("params", params), ("cookies", cookies)):
        (OUT / f"{name}.txt").write_text(render(build(), name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
