"""Reading and checking AWS Signature Version 4 on incoming requests.

The credential scope names the service a request is for, which is how one port serves S3, Glue and Athena.
When the endpoint has credentials configured, the signature is recomputed with botocore's own signer
(``SigV4Auth`` / ``S3SigV4Auth``, the code that signed the request on the client side) and compared in
constant time. Presigned URLs (``X-Amz-Signature`` in the query) are checked the same way.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from botocore.auth import HmacV1Auth, S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lakebox.endpoint.protocol import AwsError

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<sig>[0-9a-f]+)")

#: How far a request's X-Amz-Date may be from the server's clock (S3 and STS allow 15 minutes).
MAX_SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Signature:
    """The parts of a SigV4 signature a server needs."""

    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool = False
    #: Set for S3's older presigned URLs (SigV2: ``AWSAccessKeyId``, ``Expires``, ``Signature``), which boto3
    #: still makes by default for ``generate_presigned_url("get_object", ...)``.
    v2_expires: str | None = None


def read_signature(headers: Mapping[str, str], query: Mapping[str, str]) -> Signature | None:
    """The request's signature from the Authorization header or a presigned query, or None if unsigned."""
    auth = headers.get("authorization", "")
    if auth:
        m = _AUTH.match(auth.strip())
        if not m:
            raise AwsError("InvalidArgument" if not auth.startswith("AWS4") else "AuthorizationHeaderMalformed",
                           "The authorization header is malformed; expected AWS4-HMAC-SHA256 Credential=..., "
                           "SignedHeaders=..., Signature=...")
        cred, signed, sig = m.group("cred"), m.group("signed"), m.group("sig")
        presigned = False
    elif "X-Amz-Credential" in query:
        cred = query["X-Amz-Credential"]
        signed, sig = query.get("X-Amz-SignedHeaders", "host"), query.get("X-Amz-Signature", "")
        presigned = True
    elif "AWSAccessKeyId" in query and "Signature" in query and "Expires" in query:
        return Signature(query["AWSAccessKeyId"], "", "", "s3", (), query["Signature"], True, query["Expires"])
    else:
        return None
    parts = cred.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AwsError("AuthorizationHeaderMalformed",
                       f"The credential scope {cred!r} is malformed; expected AKID/date/region/service/aws4_request")
    return Signature(parts[0], parts[1], parts[2], parts[3], tuple(signed.split(";")), sig, presigned)


def verify(sig: Signature, *, method: str, url: str, headers: Mapping[str, str], body_sha256: str | None,
           access_key: str, secret_key: str, now: dt.datetime | None = None) -> None:
    """Raise the service's own error unless ``sig`` was made with ``access_key``/``secret_key``.

    ``url`` is the request URL as the client built it (scheme, Host header, raw path and query).
    ``body_sha256`` is the hex digest of the body for services that sign it (Glue, Athena); S3 signs the
    ``x-amz-content-sha256`` header instead, whose match with the body the caller checks.
    """
    s3 = sig.service == "s3"
    if not hmac.compare_digest(sig.access_key, access_key):
        if s3:
            raise AwsError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our "
                           "records.", 403, AWSAccessKeyId=sig.access_key)
        raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.", 400)
    if sig.v2_expires is not None:
        _verify_v2(sig, method, url, headers, secret_key, now)
        return
    stamp = (dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)).get("X-Amz-Date")
             if sig.presigned else headers.get("x-amz-date"))
    if not stamp:
        raise _mismatch(s3, "the request has no X-Amz-Date")
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise _mismatch(s3, f"X-Amz-Date {stamp!r} is not YYYYMMDDTHHMMSSZ") from None
    if abs((now or dt.datetime.now(dt.UTC)) - when) > MAX_SKEW and not sig.presigned:
        raise AwsError("RequestTimeTooSkewed" if s3 else "InvalidSignatureException",
                       "The difference between the request time and the current time is too large.", 403)
    expected = _expected(sig, method, url, headers, body_sha256, secret_key, stamp)
    if not hmac.compare_digest(expected, sig.signature):
        raise _mismatch(s3, "")


def _verify_v2(sig: Signature, method: str, url: str, headers: Mapping[str, str], secret_key: str,
               now: dt.datetime | None) -> None:
    """S3's SigV2 query signature (HMAC-SHA1 over method, Expires and the canonical resource)."""
    assert sig.v2_expires is not None
    try:
        expires = int(sig.v2_expires)
    except ValueError:
        raise _mismatch(True, "Expires is not a number") from None
    if (now or dt.datetime.now(dt.UTC)).timestamp() > expires:
        raise AwsError("AccessDenied", "Request has expired", 403, Expires=sig.v2_expires)
    signer = HmacV1Auth(Credentials(sig.access_key, secret_key))
    signer._get_date = lambda: sig.v2_expires  # Expires stands for Date
    wanted = signer.get_signature(method, urllib.parse.urlsplit(url), _HttpHeaders(headers))
    if not hmac.compare_digest(wanted, sig.signature):
        raise _mismatch(True, "")


class _HttpHeaders(dict[str, str]):
    """The header accessors botocore's SigV2 signer uses."""

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.items() if k.lower() == name.lower()]


def _mismatch(s3: bool, detail: str) -> AwsError:
    msg = ("The request signature we calculated does not match the signature you provided. Check your key "
           "and signing method.")
    if s3:
        return AwsError("SignatureDoesNotMatch", msg + (f" ({detail})" if detail else ""), 403)
    return AwsError("InvalidSignatureException", msg + (f" ({detail})" if detail else ""), 400)


def _expected(sig: Signature, method: str, url: str, headers: Mapping[str, str], body_sha256: str | None,
              secret_key: str, stamp: str) -> str:
    creds = Credentials(sig.access_key, secret_key)
    signer_cls = S3SigV4Auth if sig.service == "s3" else SigV4Auth
    signer = signer_cls(creds, sig.service, sig.region)
    if sig.presigned:
        # The signature is over the query exactly as sent, less the signature itself.
        parts = urllib.parse.urlsplit(url)
        query = "&".join(q for q in parts.query.split("&") if not q.startswith("X-Amz-Signature="))
        url = urllib.parse.urlunsplit(parts._replace(query=query))
    signed = {h: headers.get(h, "") for h in sig.signed_headers}
    request = AWSRequest(method=method, url=url, headers=signed)
    request.context["timestamp"] = stamp
    if sig.presigned:
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    elif body_sha256 is not None and "x-amz-content-sha256" not in signed:
        request.headers["X-Amz-Content-SHA256"] = body_sha256
    # botocore's signer lists the headers it would sign; the server must sign exactly the client's list.
    signer.headers_to_sign = lambda _r: _ordered(signed)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    return signer.signature(string_to_sign, request)


class _Headers(dict[str, str]):
    """What botocore's ``headers_to_sign`` returns: a mapping with a ``get_all`` accessor."""

    def get_all(self, name: str) -> list[str]:
        return [self[name]] if name in self else []


def _ordered(signed: Mapping[str, str]) -> _Headers:
    return _Headers({k.lower(): " ".join(v.split()) for k, v in signed.items()})
