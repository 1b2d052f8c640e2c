"""S3 over the lake, in S3's REST-XML protocol: buckets, objects, listings and multipart uploads.

Requests are routed by ``s3_routes`` from botocore's model; an S3 operation lakebox does not implement
answers ``NotImplemented`` (501), as S3 does for features it lacks. ETags are S3's (``s3_records``): the MD5
of the content, or for a multipart upload the MD5 of the parts' binary MD5s with ``-<parts>``. Keys under
``_lakebox/`` are lakebox's own and are refused with AccessDenied.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import shutil
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any

from lakebox.endpoint.backend import (
    ENDPOINT_STATE,
    INTERNAL,
    Backend,
    Bucket,
    KeyRefused,
    StoredObject,
    valid_bucket_name,
)
from lakebox.endpoint.protocol import (
    S3_NS,
    AwsError,
    operation,
    rest_xml_input,
    rest_xml_output,
)
from lakebox.endpoint.s3_records import ObjectRecords
from lakebox.endpoint.s3_routes import S3Router
from lakebox.endpoint.transport import Request, Response

UPLOADS = ENDPOINT_STATE + "uploads/"
OWNER = {"DisplayName": "lakebox", "ID": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"}
MIN_PART = 5 * 1024 * 1024
#: Objects (or ranges) up to this size are answered from memory; larger ones are streamed from the file.
SMALL_OBJECT = 256 * 1024

#: Events the endpoint emits: (bucket, key, event name, size, etag).
EventSink = Callable[[str, str, str, int, str], None]


def check_bucket_name(name: str) -> None:
    """S3's bucket naming rules (3-63 characters, lower-case letters, digits, dots and hyphens)."""
    if not valid_bucket_name(name):
        raise AwsError("InvalidBucketName", "The specified bucket is not valid.", BucketName=name)


def _quote(value: str | None) -> str | None:
    return None if value is None else urllib.parse.quote(value, safe="/~")


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AwsError("InvalidArgument", "The continuation token provided is incorrect",
                       ArgumentName="continuation-token") from None


class S3Service:
    """The S3 operations lakebox serves, over the backend's buckets."""

    SUPPORTED = ("ListBuckets", "CreateBucket", "HeadBucket", "DeleteBucket", "GetBucketLocation",
                 "ListObjectsV2", "ListObjects", "PutObject", "GetObject", "HeadObject", "DeleteObject",
                 "DeleteObjects", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
                 "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts")

    def __init__(self, backend: Backend, on_created: EventSink | None = None,
                 virtual_host_suffixes: tuple[str, ...] = (".localhost",)) -> None:
        self.backend = backend
        self.on_created = on_created
        self.route = S3Router(virtual_host_suffixes)
        self.records = ObjectRecords()

    # --- routing -------------------------------------------------------------------------------------------

    def handle(self, req: Request) -> tuple[str, Response]:
        name, bucket, key = self.route(req)
        if name not in self.SUPPORTED:
            raise AwsError("NotImplemented", f"lakebox's S3 endpoint does not implement {name}; supported: "
                           f"{', '.join(self.SUPPORTED)}", 501)
        if bucket is not None:
            check_bucket_name(bucket)
        if key is not None:
            self._check_key(key)
        op = operation("s3", name)
        uri = {"Bucket": bucket or "", "Key": key or ""}
        body: Any = None
        if op.input_shape is not None and op.input_shape.serialization.get("payload"):
            pm = op.input_shape.members[op.input_shape.serialization["payload"]]
            body = None if pm.type_name == "blob" else req.read_small()
        params = rest_xml_input(op, uri, req.query, req.headers, body)
        handler = getattr(self, "op_" + _snake(name))
        result = handler(req, params)
        if isinstance(result, Response):
            return name, result
        headers, payload = rest_xml_output(op, result)
        status = int(op.http.get("responseCode", 200))
        if isinstance(payload, bytes) and payload and not headers.get("Content-Type"):
            headers["Content-Type"] = "application/xml"
        return name, Response(status, headers, payload)

    def _check_key(self, key: str) -> None:
        if key.startswith(INTERNAL) or key == INTERNAL.rstrip("/"):
            raise AwsError("AccessDenied", f"Access Denied: {INTERNAL} holds lakebox's own state", 403, Key=key)

    def _bucket(self, name: str) -> Bucket:
        b = self.backend.bucket(name)
        if b is None:
            raise AwsError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=name)
        return b

    def _key(self, b: Bucket, key: str) -> str:
        try:
            return b.check_key(key)
        except KeyRefused as exc:
            raise AwsError("InvalidArgument", f"Invalid object key: {exc}", ArgumentName="key",
                           ArgumentValue=key) from None

    # --- object records ------------------------------------------------------------------------------------

    def _created(self, bucket: str, key: str, event: str, size: int, etag: str) -> None:
        if self.on_created is not None and self.backend.is_trigger_key(key):
            self.on_created(bucket, key, event, size, etag.strip('"'))

    def _stat(self, b: Bucket, key: str) -> StoredObject:
        obj = b.stat(self._key(b, key))
        if obj is None:
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=key)
        return obj

    # --- buckets -------------------------------------------------------------------------------------------

    def op_list_buckets(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        buckets = []
        for name in self.backend.bucket_names():
            b = self.backend.bucket(name)
            if b is not None:
                buckets.append({"Name": name, "CreationDate": b.created()})
        return {"Buckets": buckets, "Owner": OWNER}

    def op_create_bucket(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Bucket"]
        if self.backend.bucket(name) is not None:
            raise AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                           "succeeded and you already own it.", 409, BucketName=name)
        self.backend.create_bucket(name)
        return {"Location": f"/{name}"}

    def op_head_bucket(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        self._bucket(p["Bucket"])
        return {"BucketRegion": self.backend.region}

    def op_delete_bucket(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        if not b.is_empty():
            raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=b.name)
        if not self.backend.is_deletable(b.name):
            raise AwsError("AccessDenied", f"Bucket {b.name} is a configured lake; lakebox never deletes it",
                           403, BucketName=b.name)
        self.backend.delete_bucket(b.name)
        return {}

    def op_get_bucket_location(self, req: Request, p: dict[str, Any]) -> Response:
        """The region, as a bare ``<LocationConstraint>`` element (empty for us-east-1), which botocore reads
        specially."""
        self._bucket(p["Bucket"])
        region = self.backend.region
        text = "" if region == "us-east-1" else region
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{S3_NS}">{text}'
                "</LocationConstraint>").encode()
        return Response(200, {"Content-Type": "application/xml"}, body)

    # --- listing -------------------------------------------------------------------------------------------

    def _list(self, b: Bucket, prefix: str, delimiter: str | None, start: str, max_keys: int
              ) -> tuple[list[StoredObject], list[str], bool, str | None]:
        contents: list[StoredObject] = []
        prefixes: list[str] = []
        last: str | None = None
        truncated = False
        for obj in b.listing(prefix):
            key = obj.key
            if key.startswith(INTERNAL) or key <= start:
                continue
            if delimiter:
                rest = key[len(prefix):]
                i = rest.find(delimiter)
                if i >= 0:
                    cp = prefix + rest[: i + len(delimiter)]
                    if prefixes and prefixes[-1] == cp:
                        continue
                    if cp <= start or (start.startswith(cp)):
                        continue
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(cp)
                    last = cp
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(obj)
            last = key
        return contents, prefixes, truncated, last

    def _contents(self, b: Bucket, objs: list[StoredObject], encode: bool, owner: bool) -> list[dict[str, Any]]:
        out = []
        for o in objs:
            rec = self.records.get(b, o.key, o)
            item: dict[str, Any] = {"Key": _quote(o.key) if encode else o.key, "LastModified": o.modified,
                                    "ETag": rec["etag"], "Size": o.size, "StorageClass": "STANDARD"}
            if owner:
                item["Owner"] = OWNER
            out.append(item)
        return out

    def op_list_objects_v2(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        prefix, delimiter = p.get("Prefix", ""), p.get("Delimiter") or None
        max_keys = max(0, min(int(p.get("MaxKeys", 1000)), 1000))
        start = p.get("StartAfter", "")
        if p.get("ContinuationToken"):
            start = max(start, _untoken(p["ContinuationToken"]))
        contents, prefixes, truncated, last = self._list(b, prefix, delimiter, start, max_keys)
        encode = p.get("EncodingType") == "url"
        out: dict[str, Any] = {
            "IsTruncated": truncated, "Contents": self._contents(b, contents, encode, bool(p.get("FetchOwner"))),
            "Name": b.name, "Prefix": _quote(prefix) if encode else prefix, "MaxKeys": max_keys,
            "CommonPrefixes": [{"Prefix": _quote(c) if encode else c} for c in prefixes],
            "KeyCount": len(contents) + len(prefixes),
        }
        if delimiter:
            out["Delimiter"] = _quote(delimiter) if encode else delimiter
        if encode:
            out["EncodingType"] = "url"
        if p.get("ContinuationToken"):
            out["ContinuationToken"] = p["ContinuationToken"]
        if p.get("StartAfter"):
            out["StartAfter"] = _quote(p["StartAfter"]) if encode else p["StartAfter"]
        if truncated and last is not None:
            out["NextContinuationToken"] = _token(last)
        return out

    def op_list_objects(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        prefix, delimiter = p.get("Prefix", ""), p.get("Delimiter") or None
        max_keys = max(0, min(int(p.get("MaxKeys", 1000)), 1000))
        marker = p.get("Marker", "")
        contents, prefixes, truncated, last = self._list(b, prefix, delimiter, marker, max_keys)
        encode = p.get("EncodingType") == "url"
        out: dict[str, Any] = {
            "IsTruncated": truncated, "Marker": marker, "Contents": self._contents(b, contents, encode, True),
            "Name": b.name, "Prefix": _quote(prefix) if encode else prefix, "MaxKeys": max_keys,
            "CommonPrefixes": [{"Prefix": _quote(c) if encode else c} for c in prefixes],
        }
        if delimiter:
            out["Delimiter"] = delimiter
            if truncated and last is not None:
                out["NextMarker"] = last
        if encode:
            out["EncodingType"] = "url"
        return out

    # --- objects -------------------------------------------------------------------------------------------

    def _check_payload(self, req: Request, spooled_sha: str | None, spooled_md5: str) -> None:
        declared = req.headers.get("x-amz-content-sha256", "")
        if spooled_sha is not None and declared != spooled_sha:
            raise AwsError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match "
                           "what was computed.", ClientComputedContentSHA256=declared,
                           S3ComputedContentSHA256=spooled_sha)
        md5 = req.headers.get("content-md5")
        if md5:
            try:
                ok = base64.b64decode(md5).hex() == spooled_md5
            except (binascii.Error, ValueError):
                ok = False
            if not ok:
                raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.")

    def _receive(self, req: Request, b: Bucket, key: str) -> tuple[StoredObject, str]:
        """Spool the body next to ``key``'s destination, check its digests, publish it (a rename)."""
        try:
            body = req.spool(b.temp_path(key))
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise self._folder_clash(key, exc) from None
        try:
            self._check_payload(req, body.sha256, body.md5)
            obj = b.write_file(key, body.path)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise self._folder_clash(key, exc) from None
        finally:
            body.path.unlink(missing_ok=True)
        return obj, f'"{body.md5}"'

    @staticmethod
    def _folder_clash(key: str, exc: OSError) -> AwsError:
        return AwsError("InvalidArgument", f"Key {key!r} cannot be stored: a folder lake cannot hold both an "
                        f"object and a prefix of that name ({exc.strerror})", ArgumentName="key", ArgumentValue=key)

    def op_put_object(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        if key.endswith("/"):
            data = req.read_small()
            if data:
                raise AwsError("InvalidArgument", f"Key {key!r} ends with '/': a folder lake keeps such keys only "
                               "as empty folder markers, and this body is not empty", ArgumentName="key",
                               ArgumentValue=key)
            b.path(key).mkdir(parents=True, exist_ok=True)  # a "folder" marker: the folder is the object
            return {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'}
        obj, etag = self._receive(req, b, key)
        self.records.save(b, key, obj, etag, p.get("ContentType"), p.get("Metadata"))
        self._created(b.name, key, "ObjectCreated:Put", obj.size, etag)
        return {"ETag": etag}

    def _write(self, b: Bucket, key: str, stream: IO[bytes]) -> StoredObject:
        try:
            return b.write_stream(key, stream)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:
            raise self._folder_clash(key, exc) from None

    def _range(self, spec: str, size: int) -> tuple[int, int] | None:
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None  # S3 ignores a Range header it cannot parse and sends the whole object
        if m.group(1) == "":
            n = int(m.group(2))
            if n == 0:
                raise AwsError("InvalidRange", "The requested range is not satisfiable", 416,
                               RangeRequested=spec, ActualObjectSize=str(size))
            return max(0, size - n), size - 1
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
        if start >= size or end < start:
            raise AwsError("InvalidRange", "The requested range is not satisfiable", 416, RangeRequested=spec,
                           ActualObjectSize=str(size))
        return start, min(end, size - 1)

    def _conditions(self, req: Request, etag: str, modified: dt.datetime) -> None:
        match = req.headers.get("if-match")
        if match and etag not in {m.strip() for m in match.split(",")} and match.strip() != "*":
            raise AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                           412, Condition="If-Match")
        none = req.headers.get("if-none-match")
        if none and (etag in {m.strip() for m in none.split(",")} or none.strip() == "*"):
            raise AwsError("NotModified", "Not Modified", 304)

    def _object_headers(self, obj: StoredObject, rec: dict[str, Any]) -> dict[str, Any]:
        return {"ETag": rec["etag"], "LastModified": obj.modified, "ContentLength": obj.size,
                "ContentType": rec.get("content_type", "binary/octet-stream"), "AcceptRanges": "bytes",
                "Metadata": rec.get("metadata") or {}, "StorageClass": None}

    def op_head_object(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        obj = self._stat(b, p["Key"])
        rec = self.records.get(b, obj.key, obj)
        self._conditions(req, rec["etag"], obj.modified)
        return self._object_headers(obj, rec)

    def op_get_object(self, req: Request, p: dict[str, Any]) -> Response | dict[str, Any]:
        b = self._bucket(p["Bucket"])
        obj = self._stat(b, p["Key"])
        rec = self.records.get(b, obj.key, obj)
        self._conditions(req, rec["etag"], obj.modified)
        out = self._object_headers(obj, rec)
        rng = self._range(p["Range"], obj.size) if p.get("Range") else None
        start, end = rng if rng else (0, obj.size - 1)
        fh = b.open(obj.key)
        wrapper = req.environ.get("wsgi.file_wrapper")
        if end - start + 1 <= SMALL_OBJECT:
            with fh:
                fh.seek(start)
                out["Body"] = fh.read(end - start + 1)  # one write, with the headers
        elif rng is None and wrapper is not None:
            out["Body"] = wrapper(fh, 256 * 1024)  # the server streams the file itself
        else:
            fh.seek(start)
            out["Body"] = _stream(fh, end - start + 1)
        out["ContentLength"] = end - start + 1
        headers, body = rest_xml_output(operation("s3", "GetObject"), out)
        if rng:
            headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
            return Response(206, headers, body)
        return Response(200, headers, body)

    def op_delete_object(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        self._delete(b, key)
        return {}

    def _delete(self, b: Bucket, key: str) -> None:
        try:
            b.delete(key)
        except (IsADirectoryError, PermissionError):
            return  # a prefix, not an object: S3 answers 204 for keys that do not exist
        self.records.delete(b, key)

    def op_delete_objects(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        items = p["Delete"].get("Objects", [])
        if len(items) > 1000:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                           "our published schema")
        deleted, errors = [], []
        for item in items:
            key = item.get("Key", "")
            try:
                self._check_key(key)
                self._delete(b, self._key(b, key))
                deleted.append({"Key": key})
            except AwsError as exc:
                errors.append({"Key": key, "Code": exc.code, "Message": exc.message})
        return {"Deleted": [] if p["Delete"].get("Quiet") else deleted, "Errors": errors}

    def op_copy_object(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        src_bucket, src_key = self._copy_source(p["CopySource"])
        sb = self._bucket(src_bucket)
        src = self._stat(sb, src_key)
        rec = self.records.get(sb, src.key, src)
        if p.get("MetadataDirective") == "REPLACE":
            content_type, metadata = p.get("ContentType"), p.get("Metadata")
        elif sb is b and src.key == key:
            raise AwsError("InvalidRequest", "This copy request is illegal because it is trying to copy an object "
                           "to itself without changing the object's metadata, storage class, website redirect "
                           "location or encryption attributes.")
        else:
            content_type, metadata = rec.get("content_type"), rec.get("metadata")
        with sb.open(src.key) as fh:
            obj = self._write(b, key, fh)
        self.records.save(b, key, obj, rec["etag"], content_type, metadata)
        self._created(b.name, key, "ObjectCreated:Copy", obj.size, rec["etag"])
        return {"CopyObjectResult": {"ETag": rec["etag"], "LastModified": obj.modified}}

    def _copy_source(self, value: str) -> tuple[str, str]:
        src = urllib.parse.unquote(value.split("?versionId=", 1)[0]).lstrip("/")
        bucket, _, key = src.partition("/")
        if not bucket or not key:
            raise AwsError("InvalidArgument", "Copy Source must mention the source bucket and key: "
                           "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source", ArgumentValue=value)
        check_bucket_name(bucket)
        self._check_key(key)
        return bucket, key

    # --- multipart -----------------------------------------------------------------------------------------

    def _upload_dir(self, b: Bucket, upload_id: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
            raise AwsError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or "
                           "the upload may have been aborted or completed.", 404, UploadId=upload_id)
        return f"{UPLOADS}{upload_id}/"

    def _upload(self, b: Bucket, key: str, upload_id: str) -> dict[str, Any]:
        base = self._upload_dir(b, upload_id)
        try:
            info = json.loads(b.read(base + "upload.json"))
        except (KeyError, ValueError):
            info = None
        if not info or info.get("key") != key:
            raise AwsError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or "
                           "the upload may have been aborted or completed.", 404, UploadId=upload_id)
        return info

    def op_create_multipart_upload(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        upload_id = uuid.uuid4().hex
        info = {"key": key, "initiated": dt.datetime.now(dt.UTC).isoformat(), "content_type": p.get("ContentType"),
                "metadata": p.get("Metadata") or {}}
        b.write_bytes(self._upload_dir(b, upload_id) + "upload.json", json.dumps(info).encode())
        return {"Bucket": b.name, "Key": key, "UploadId": upload_id}

    def _part_key(self, b: Bucket, p: dict[str, Any]) -> tuple[str, int]:
        key = self._key(b, p["Key"])
        self._upload(b, key, p["UploadId"])
        n = int(p["PartNumber"])
        if not 1 <= n <= 10000:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                           ArgumentName="partNumber", ArgumentValue=str(n))
        return f"{self._upload_dir(b, p['UploadId'])}{n:05d}", n

    def _save_part(self, b: Bucket, base: str, part: StoredObject, etag: str) -> None:
        b.write_record(f"{base}.json", json.dumps({"etag": etag, "size": part.size,
                                                   "modified": dt.datetime.now(dt.UTC).isoformat()}).encode())

    def op_upload_part(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        base, _ = self._part_key(b, p)
        part, etag = self._receive(req, b, f"{base}.part")
        self._save_part(b, base, part, etag)
        return {"ETag": etag}

    def op_upload_part_copy(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        """A part copied from (a byte range of) another object: how managed copies of large objects work."""
        b = self._bucket(p["Bucket"])
        base, _ = self._part_key(b, p)
        src_bucket, src_key = self._copy_source(p["CopySource"])
        sb = self._bucket(src_bucket)
        src = self._stat(sb, src_key)
        rng = p.get("CopySourceRange")
        start, end = (0, src.size - 1)
        if rng:
            parsed = self._range(rng, src.size)
            if parsed is None:
                raise AwsError("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                               "bytes=first-last", ArgumentName="x-amz-copy-source-range", ArgumentValue=rng)
            start, end = parsed
        tmp = b.temp_path(f"{base}.part")
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with sb.open(src.key) as fh, open(tmp, "wb") as out:
                fh.seek(start)
                for block in _stream(fh, end - start + 1):
                    digest.update(block)
                    out.write(block)
            part = b.write_file(f"{base}.part", tmp)
        finally:
            tmp.unlink(missing_ok=True)
        etag = f'"{digest.hexdigest()}"'
        self._save_part(b, base, part, etag)
        return {"CopyPartResult": {"ETag": etag, "LastModified": part.modified}}

    def _parts(self, b: Bucket, upload_id: str) -> dict[int, dict[str, Any]]:
        base = self._upload_dir(b, upload_id)
        parts = {}
        for o in b.listing(base):
            if o.key.endswith(".json") and not o.key.endswith("upload.json"):
                n = int(o.key[len(base):].split(".", 1)[0])
                parts[n] = json.loads(b.read(o.key))
        return parts

    def op_list_parts(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        self._upload(b, key, p["UploadId"])
        parts = self._parts(b, p["UploadId"])
        return {"Bucket": b.name, "Key": key, "UploadId": p["UploadId"], "IsTruncated": False,
                "Parts": [{"PartNumber": n, "ETag": v["etag"], "Size": v["size"], "LastModified": v["modified"]}
                          for n, v in sorted(parts.items())], "Owner": OWNER, "Initiator": OWNER,
                "StorageClass": "STANDARD"}

    def op_abort_multipart_upload(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        self._upload(b, key, p["UploadId"])
        shutil.rmtree(b.path(self._upload_dir(b, p["UploadId"])), ignore_errors=True)
        return {}

    def op_complete_multipart_upload(self, req: Request, p: dict[str, Any]) -> dict[str, Any]:
        b = self._bucket(p["Bucket"])
        key = self._key(b, p["Key"])
        info = self._upload(b, key, p["UploadId"])
        have = self._parts(b, p["UploadId"])
        listed = (p.get("MultipartUpload") or {}).get("Parts") or []
        if not listed:
            raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                           "our published schema")
        numbers = [int(x.get("PartNumber", 0)) for x in listed]
        if numbers != sorted(set(numbers)):
            raise AwsError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered "
                           "by part number.", UploadId=p["UploadId"])
        for x, n in zip(listed, numbers, strict=True):
            if n not in have or have[n]["etag"].strip('"') != str(x.get("ETag", "")).strip('"'):
                raise AwsError("InvalidPart", "One or more of the specified parts could not be found. The part may "
                               "not have been uploaded, or the specified entity tag may not match the part's "
                               "entity tag.", UploadId=p["UploadId"], PartNumber=str(n))
        for n in numbers[:-1]:
            if have[n]["size"] < MIN_PART:
                raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object "
                               "size.", ProposedSize=str(have[n]["size"]), MinSizeAllowed=str(MIN_PART),
                               PartNumber=str(n))
        base = self._upload_dir(b, p["UploadId"])
        tmp = b.temp_path(key)
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(tmp, "wb") as out:
                for n in numbers:
                    digest.update(bytes.fromhex(have[n]["etag"].strip('"')))
                    with b.open(f"{base}{n:05d}.part") as part:
                        shutil.copyfileobj(part, out, 1024 * 1024)
            obj = b.write_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)
        shutil.rmtree(b.path(base), ignore_errors=True)
        etag = f'"{digest.hexdigest()}-{len(numbers)}"'
        self.records.save(b, key, obj, etag, info.get("content_type"), info.get("metadata"))
        self._created(b.name, key, "ObjectCreated:CompleteMultipartUpload", obj.size, etag)
        host = req.host or "localhost"
        return {"Location": f"http://{host}/{b.name}/{urllib.parse.quote(key)}", "Bucket": b.name, "Key": key,
                "ETag": etag}


def _stream(fh: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        remaining = length
        while remaining > 0:
            block = fh.read(min(1024 * 1024, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        fh.close()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
