"""AWS wire protocols driven by botocore's own service models (the JSON files shipped in the botocore wheel).

Requests are parsed and responses shaped by walking the operation's input and output shapes, so member
names, XML element names, flattened lists, header locations, timestamp formats and length/range limits come
from the model, not from hand-written code per action:

- JSON 1.1 (Glue, Athena): ``json_input`` validates a request body against the input shape and answers
  violations with AWS's validation message; ``json_output`` keeps only the members the output shape declares
  and renders timestamps as epoch seconds.
- REST-XML (S3): ``rest_xml_input`` gathers uri/querystring/header/payload members, ``rest_xml_output``
  splits an output dict into headers and an XML (or raw) body.

Errors are :class:`AwsError`; the server renders them in each protocol's error format.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import re
import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any
from xml.etree import ElementTree as ET

from botocore.loaders import create_loader
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from lakebox.core.errors import LakeboxError

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class AwsError(LakeboxError, exit_code=2):
    """An error answered the way the AWS service answers it: a code, a message, an HTTP status and, for S3,
    extra elements (``Key``, ``BucketName``, ...)."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: str) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.http_status = status  # type: ignore[misc]  # ClassVar default, per-error status by design
        self.extra = extra

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@cache
def service_model(name: str) -> ServiceModel:
    """The botocore model of ``name`` (s3, glue, athena), loaded once from the botocore wheel."""
    return ServiceModel(create_loader().load_service_model(name, "service-2"), service_name=name)


def operation(service: str, name: str) -> OperationModel:
    return service_model(service).operation_model(name)


def request_id() -> str:
    return str(uuid.uuid4())


# --- JSON 1.1 --------------------------------------------------------------------------------------------


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def json_input(shape: Shape | None, value: Any) -> dict[str, Any]:
    """Check a decoded JSON request against its input shape, as AWS's front end does.

    Constraint violations (a required member missing, a string too long, a number out of range, a value not
    in an enum) are collected into AWS's ``ValidationException`` message ("2 validation errors detected:
    Value null at 'queryString' failed to satisfy constraint: Member must not be null; ..."). A value of the
    wrong JSON type is a ``SerializationException``. Timestamps are decoded to datetimes, blobs to bytes.
    """
    if shape is None:
        return {}
    if not isinstance(value, dict):
        raise AwsError("SerializationException", "Start of structure or map found where not expected.")
    problems: list[str] = []
    out = _json_in(shape, value, "", problems)
    if problems:
        n = len(problems)
        raise AwsError("ValidationException",
                       f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems))
    return out


def _json_in(shape: Shape, value: Any, path: str, problems: list[str]) -> Any:
    t = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise AwsError("SerializationException", f"Expected an object at '{path or 'input'}'")
        out: dict[str, Any] = {}
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(f"Value null at '{path + _camel(name)}' failed to satisfy constraint: "
                                "Member must not be null")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[name] = _json_in(member, value[name], f"{path}{_camel(name)}.", problems)
        return out
    where = path.rstrip(".")
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise AwsError("SerializationException", f"Expected a list at '{where}'")
        _check_range(shape, len(value), where, problems, "length")
        return [_json_in(shape.member, v, f"{where}.member.", problems) for v in value]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise AwsError("SerializationException", f"Expected a map at '{where}'")
        return {str(k): _json_in(shape.value, v, f"{where}.{k}.", problems) for k, v in value.items()}
    if t == "string":
        if not isinstance(value, str):
            raise AwsError("SerializationException", f"Expected a string at '{where}'")
        _check_range(shape, len(value), where, problems, "length")
        enum = shape.metadata.get("enum")
        if enum and value not in enum:
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy "
                            f"enum value set: [{', '.join(enum)}]")
        pattern = shape.metadata.get("pattern")
        if pattern and not _matches(pattern, value):
            problems.append(f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy "
                            f"regular expression pattern: {pattern}")
        return value
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise AwsError("SerializationException", f"Expected a number at '{where}'")
        _check_range(shape, value, where, problems, "value")
        return value
    if t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AwsError("SerializationException", f"Expected a number at '{where}'")
        return float(value)
    if t == "boolean":
        if not isinstance(value, bool):
            raise AwsError("SerializationException", f"Expected a boolean at '{where}'")
        return value
    if t == "timestamp":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        try:
            if isinstance(value, str):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise AwsError("SerializationException", f"Expected a timestamp at '{where}'") from None
        raise AwsError("SerializationException", f"Expected a timestamp at '{where}'")
    if t == "blob":
        try:
            return base64.b64decode(value, validate=True)
        except (TypeError, ValueError):
            raise AwsError("SerializationException", f"Expected base64 data at '{where}'") from None
    return value


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a Java-only construct in the model's pattern: not checked here


def _matches(pattern: str, value: str) -> bool:
    rx = _compiled(pattern)
    return rx is None or rx.fullmatch(value) is not None or rx.match(value) is not None


def _check_range(shape: Shape, n: int, where: str, problems: list[str], what: str) -> None:
    lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
    shown = "null" if what == "length" else str(n)
    if lo is not None and n < lo:
        rule = f"Member must have length greater than or equal to {lo}" if what == "length" else \
            f"Member must have value greater than or equal to {lo}"
        problems.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: {rule}")
    if hi is not None and n > hi:
        rule = f"Member must have length less than or equal to {hi}" if what == "length" else \
            f"Member must have value less than or equal to {hi}"
        problems.append(f"Value '{shown}' at '{where}' failed to satisfy constraint: {rule}")


def json_output(shape: Shape | None, value: Any) -> Any:
    """Render ``value`` as the output shape says: only declared members, timestamps as epoch seconds,
    blobs base64. Members that are None are left out, as AWS leaves them out."""
    if shape is None or value is None:
        return {} if shape is None else None
    if isinstance(shape, StructureShape):
        out = {}
        for name, member in shape.members.items():
            v = value.get(name) if isinstance(value, Mapping) else None
            if v is not None:
                out[name] = json_output(member, v)
        return out
    if isinstance(shape, ListShape):
        return [json_output(shape.member, v) for v in value]
    if isinstance(shape, MapShape):
        return {str(k): json_output(shape.value, v) for k, v in value.items()}
    t = shape.type_name
    if t == "timestamp":
        return _epoch(value)
    if t == "blob":
        return base64.b64encode(value).decode()
    if t in ("integer", "long"):
        return int(value)
    if t in ("double", "float"):
        return float(value)
    if t == "boolean":
        return bool(value)
    return str(value)


def _epoch(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, str):
        return round(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp(), 3)
    return float(value)


def json_error_body(err: AwsError) -> bytes:
    return json.dumps({"__type": err.code, "Message": err.message, "message": err.message}).encode()


# --- REST-XML (S3) ---------------------------------------------------------------------------------------


def _to_dt(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def iso_ms(value: Any) -> str:
    d = _to_dt(value).astimezone(dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def http_date(value: Any) -> str:
    return email.utils.format_datetime(_to_dt(value).astimezone(dt.UTC), usegmt=True)


def _scalar_text(shape: Shape, value: Any, header: bool = False) -> str:
    t = shape.type_name
    if t == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "rfc822" if header else "iso8601")
        if fmt == "rfc822":
            return http_date(value)
        if fmt == "unixTimestamp":
            return str(int(_epoch(value)))
        return iso_ms(value)
    if t == "boolean":
        return "true" if value else "false"
    if t == "blob":
        return base64.b64encode(value).decode()
    return str(value)


def _parse_scalar(shape: Shape, text: str, where: str) -> Any:
    t = shape.type_name
    try:
        if t in ("integer", "long"):
            return int(text)
        if t in ("double", "float"):
            return float(text)
        if t == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if t == "timestamp":
            try:
                return _to_dt(text)
            except ValueError:
                return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise AwsError("InvalidArgument", f"Invalid value {text!r} for {where}", ArgumentName=where,
                       ArgumentValue=text) from None
    return text


def xml_element(shape: Shape, value: Any, name: str) -> ET.Element:
    """Build an element for ``value`` under ``shape`` (structures by member, lists flattened or wrapped)."""
    el = ET.Element(name)
    _fill(el, shape, value)
    return el


def _fill(el: ET.Element, shape: Shape, value: Any) -> None:
    if isinstance(shape, StructureShape):
        for mname, member in shape.members.items():
            if member.serialization.get("location"):
                continue
            v = value.get(mname)
            if v is None:
                continue
            tag = member.serialization.get("name", mname)
            if isinstance(member, ListShape):
                item_tag = member.member.serialization.get("name", "member")
                if member.serialization.get("flattened"):
                    for item in v:
                        el.append(xml_element(member.member, item, tag))
                else:
                    wrap = ET.SubElement(el, tag)
                    for item in v:
                        wrap.append(xml_element(member.member, item, item_tag))
            else:
                el.append(xml_element(member, v, tag))
        return
    el.text = _scalar_text(shape, value)


def xml_to_value(shape: Shape, el: ET.Element) -> Any:
    """Parse an element per ``shape`` (the inverse of :func:`xml_element`)."""
    if isinstance(shape, StructureShape):
        out: dict[str, Any] = {}
        children = list(el)
        for mname, member in shape.members.items():
            tag = member.serialization.get("name", mname)
            matches = [c for c in children if _local(c.tag) == tag]
            if not matches:
                continue
            if isinstance(member, ListShape):
                if member.serialization.get("flattened"):
                    out[mname] = [xml_to_value(member.member, c) for c in matches]
                else:
                    out[mname] = [xml_to_value(member.member, c) for c in matches[0]]
            else:
                out[mname] = xml_to_value(member, matches[0])
        return out
    return _parse_scalar(shape, (el.text or "").strip(), _local(el.tag))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes) -> ET.Element:
    """Parse a request body; anything that is not well-formed XML is S3's MalformedXML.

    Entity declarations are refused outright (no billion-laughs, no external entities)."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                       "our published schema")
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                       "our published schema") from None


def rest_xml_input(op: OperationModel, uri: Mapping[str, str], query: Mapping[str, str],
                   headers: Mapping[str, str], body: Any) -> dict[str, Any]:
    """The input members of an S3 request: from the URI, query string, headers, ``x-amz-meta-*`` and the
    payload. A streaming blob payload (PutObject, UploadPart) is passed through as given; a structure payload
    is parsed from XML."""
    shape = op.input_shape
    out: dict[str, Any] = {}
    if shape is None:
        return out
    payload = shape.serialization.get("payload")
    for mname, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", mname)
        if loc == "uri":
            if wire in uri:
                out[mname] = uri[wire]
        elif loc == "querystring":
            if isinstance(member, MapShape):
                continue
            if wire in query:
                out[mname] = _parse_scalar(member, query[wire], wire)
        elif loc == "header":
            v = headers.get(wire.lower())
            if v is not None:
                out[mname] = _parse_scalar(member, v, wire)
        elif loc == "headers":
            prefix = wire.lower()
            out[mname] = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
        elif mname == payload:
            if member.type_name == "blob":
                out[mname] = body
            elif body:
                el = parse_xml(body if isinstance(body, bytes) else body.read())
                expected = member.serialization.get("name", mname)
                if _local(el.tag) != expected:
                    raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not "
                                   "validate against our published schema")
                out[mname] = xml_to_value(member, el)
    missing = [m for m in shape.required_members if m not in out or out[m] is None]
    if missing:
        wire_name = shape.members[missing[0]].serialization.get("name", missing[0])
        if missing[0] == payload:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                           "against our published schema")
        raise AwsError("InvalidRequest", f"Missing required parameter: {wire_name}")
    return out


#: Root elements of S3 responses that have no payload member (the model leaves them implicit).
_ROOTS = {
    "ListObjectsV2": "ListBucketResult",
    "ListObjects": "ListBucketResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "DeleteObjects": "DeleteResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
}


def rest_xml_output(op: OperationModel, value: Mapping[str, Any]) -> tuple[dict[str, str], Any]:
    """Split an output dict into response headers and a body: raw bytes/stream for a blob payload, XML for a
    structure payload or for the body members."""
    shape = op.output_shape
    headers: dict[str, str] = {}
    if shape is None:
        return headers, b""
    payload = shape.serialization.get("payload")
    for mname, member in shape.members.items():
        v = value.get(mname)
        if v is None:
            continue
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", mname)
        if loc == "header":
            headers[wire] = _scalar_text(member, v, header=True)
        elif loc == "headers":
            for k, item in v.items():
                headers[wire + k] = str(item)
    if payload:
        member = shape.members[payload]
        v = value.get(payload)
        if member.type_name == "blob":
            return headers, v if v is not None else b""
        if v is None:
            return headers, b""
        return headers, _xml_doc(xml_element(member, v, member.serialization.get("name", payload)))
    root = _ROOTS.get(op.name, op.name + "Result")
    body_members = [m for m, s in shape.members.items() if not s.serialization.get("location")]
    if not body_members:
        return headers, b""
    return headers, _xml_doc(xml_element(shape, value, root))


def _xml_doc(el: ET.Element) -> bytes:
    el.set("xmlns", S3_NS)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el, encoding="utf-8")


def xml_error_body(err: AwsError, rid: str) -> bytes:
    el = ET.Element("Error")
    ET.SubElement(el, "Code").text = err.code
    ET.SubElement(el, "Message").text = err.message
    for k, v in err.extra.items():
        ET.SubElement(el, k).text = str(v)
    ET.SubElement(el, "RequestId").text = rid
    ET.SubElement(el, "HostId").text = "lakebox"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el, encoding="utf-8")
