"""``lakebox deploy up|down|status``: the stack's lifecycle with boto3's CloudFormation client.

``up`` always goes through a change set, so ``--dry-run`` shows exactly what ``up`` would do (and then deletes
the change set, and the empty stack a first dry run leaves in REVIEW_IN_PROGRESS). The function's zip and the
template are uploaded to an artifacts bucket (``lakebox-artifacts-<account>-<region>``), the zip under a
content-addressed key, so re-running ``up`` with unchanged code changes nothing.

``down`` refuses to delete a lake that still holds objects (any version) unless ``delete_data`` is set: the
bucket has ``DeletionPolicy: Retain`` so CloudFormation never deletes data by itself, and ``down`` deletes
the bucket explicitly (emptied, when asked to) after the stack is gone.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.deploy import template as tpl

TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
TERMINAL_BAD = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
                "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED", "IMPORT_ROLLBACK_COMPLETE"}
INLINE_TEMPLATE_LIMIT = 51_200  # bytes CloudFormation accepts as TemplateBody; larger goes via S3


class StackError(LakeboxError, RuntimeError, code="ValidationError"):
    """A stack operation cannot proceed or failed; the message says why and what to do."""


@dataclass
class Change:
    action: str
    logical_id: str
    resource_type: str
    replacement: str = ""


@dataclass
class UpResult:
    stack: str
    status: str
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


def bucket_name_for(stack: str, account: str) -> str:
    """A valid, globally unique-enough bucket name from a stack name (S3 names: lower case, <= 63)."""
    base = re.sub(r"[^a-z0-9-]", "-", stack.lower()).strip("-") or "lakebox"
    name = f"{base[:40]}-{account}"
    return name if name.startswith("lakebox") else f"lakebox-{name}"[:63]


class StackManager:
    """Runs the deploy commands. Clients come from a boto3 session built on first use; ``log`` receives
    progress lines (the CLI prints them with rich); ``sleep``/``clock`` are injectable for tests."""

    def __init__(
        self,
        stack: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        log: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: Any = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", stack):
            raise StackError(f"invalid stack name {stack!r}: letters, digits and '-', starting with a letter")
        self.stack = stack
        self.region = region
        self.endpoint_url = endpoint_url
        self.log = log
        self._sleep, self._clock = sleep, clock
        self._session = session
        self._clients: dict[str, Any] = {}

    # --- clients ------------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session(region_name=self.region)
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url,
                                                          region_name=self.region)
        return self._clients[service]

    @property
    def cfn(self) -> Any:
        return self.client("cloudformation")

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])

    def region_name(self) -> str:
        return str(self.region or self.cfn.meta.region_name)

    # --- reading the stack -------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:
        """DescribeStacks for this stack, or None when it does not exist (or is fully deleted)."""
        try:
            stacks = self.cfn.describe_stacks(StackName=self.stack)["Stacks"]
        except Exception as exc:
            if "does not exist" in str(exc):
                return None
            raise
        if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
            return None
        return dict(stacks[0])

    def outputs(self) -> dict[str, str]:
        desc = self.describe() or {}
        return {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}

    def status(self) -> dict[str, Any]:
        """What ``lakebox deploy status`` shows: state, outputs, parameters and the latest events."""
        desc = self.describe()
        if desc is None:
            return {"stack": self.stack, "status": "DOES_NOT_EXIST"}
        events = self.cfn.describe_stack_events(StackName=self.stack).get("StackEvents", [])[:10]
        return {
            "stack": self.stack,
            "status": desc["StackStatus"],
            "reason": desc.get("StackStatusReason"),
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])},
            "parameters": {p["ParameterKey"]: p.get("ParameterValue") for p in desc.get("Parameters", [])
                           if p["ParameterKey"] not in ("CodeKey",)},
            "events": [f"{e.get('LogicalResourceId')} {e.get('ResourceStatus')} {e.get('ResourceStatusReason') or ''}"
                       .strip() for e in events],
        }

    # --- artifacts ----------------------------------------------------------------------------------------

    def artifacts_bucket(self) -> str:
        return f"lakebox-artifacts-{self.account_id()}-{self.region_name()}"

    def ensure_artifacts_bucket(self) -> str:
        """Create the private artifacts bucket on first use (encrypted, public access blocked)."""
        s3 = self.client("s3")
        name = self.artifacts_bucket()
        try:
            s3.head_bucket(Bucket=name)
            return name
        except Exception as exc:
            if "404" not in str(exc) and "Not Found" not in str(exc):
                raise
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region_name() != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region_name()}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        self.log(f"created artifacts bucket s3://{name}")
        return name

    def upload_zip(self, zip_path: Path, key: str) -> tuple[str, str]:
        bucket = self.ensure_artifacts_bucket()
        s3 = self.client("s3")
        try:
            s3.head_object(Bucket=bucket, Key=key)
            self.log(f"function code unchanged: s3://{bucket}/{key}")
        except Exception as exc:
            if "404" not in str(exc) and "Not Found" not in str(exc):
                raise
            s3.upload_file(str(zip_path), bucket, key)
            self.log(f"uploaded function code to s3://{bucket}/{key}")
        return bucket, key

    # --- up ----------------------------------------------------------------------------------------------

    def up(
        self,
        *,
        zip_path: Path | None = None,
        arch: str = "x86_64",
        parameters: dict[str, str] | None = None,
        template: dict[str, Any] | None = None,
        dry_run: bool = False,
        timeout: float = 1800.0,
        package_kwargs: dict[str, Any] | None = None,
    ) -> UpResult:
        """Create or update the stack through a change set; with ``dry_run`` only show the change set."""
        from lakebox.deploy.package import build_zip

        body = template or tpl.build_template()
        account = self.account_id()
        params = {"BucketName": bucket_name_for(self.stack, account), "Architecture": arch}
        params.update(parameters or {})
        if "CodeBucket" not in params or "CodeKey" not in params:
            with tempfile.TemporaryDirectory(prefix="lakebox-up-") as tmp:
                if zip_path is None:
                    self.log(f"building the function package ({arch}) ...")
                    info = build_zip(Path(tmp) / "lambda.zip", arch, **(package_kwargs or {}))
                    zip_path, key = info.path, info.s3_key
                else:
                    import hashlib

                    digest = hashlib.sha256(Path(zip_path).read_bytes()).hexdigest()
                    key = f"lakebox/lambda-{arch}-{digest[:16]}.zip"
                params["CodeBucket"], params["CodeKey"] = self.upload_zip(Path(zip_path), key)

        existing = self.describe()
        if existing is not None and existing["StackStatus"] == "REVIEW_IN_PROGRESS":
            existing = None  # a stack that only ever had a change set: still a CREATE
        change_type = "UPDATE" if existing is not None else "CREATE"
        if existing is not None and existing["StackStatus"] in ("ROLLBACK_COMPLETE",):
            raise StackError(f"stack {self.stack} is ROLLBACK_COMPLETE (its creation failed); run "
                             "`lakebox deploy down` first, then `up` again")
        name = f"lakebox-{int(time.time())}"
        kwargs: dict[str, Any] = {
            "StackName": self.stack, "ChangeSetName": name, "ChangeSetType": change_type,
            "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in sorted(params.items())],
            "Capabilities": ["CAPABILITY_IAM"],
            "Tags": [{"Key": "lakebox:stack", "Value": self.stack}],
        }
        kwargs.update(self._template_argument(body))
        self.log(f"creating change set {name} ({change_type}) for stack {self.stack} ...")
        self.cfn.create_change_set(**kwargs)
        cs = self._wait_change_set(name, timeout)
        changes = [Change(c["ResourceChange"].get("Action", ""), c["ResourceChange"].get("LogicalResourceId", ""),
                          c["ResourceChange"].get("ResourceType", ""),
                          str(c["ResourceChange"].get("Replacement", "") or ""))
                   for c in cs.get("Changes", []) if "ResourceChange" in c]
        no_changes = cs.get("Status") == "FAILED" and "didn't contain changes" in str(cs.get("StatusReason", ""))
        if cs.get("Status") == "FAILED" and not no_changes:
            raise StackError(f"change set failed: {cs.get('StatusReason')}")
        if dry_run or no_changes:
            self.cfn.delete_change_set(StackName=self.stack, ChangeSetName=name)
            if change_type == "CREATE":
                # A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS; a dry run leaves nothing.
                self.cfn.delete_stack(StackName=self.stack)
            status = "NO_CHANGES" if no_changes else "DRY_RUN"
            return UpResult(self.stack, status, changes, {}, dry_run=dry_run)
        self.log(f"executing change set: {len(changes)} change(s)")
        started = self._clock()
        self.cfn.execute_change_set(StackName=self.stack, ChangeSetName=name)
        final = self._wait_stack(started, timeout)
        if final not in TERMINAL_OK:
            raise StackError(f"stack {self.stack} ended {final}; see `lakebox deploy status --stack {self.stack}`")
        return UpResult(self.stack, final, changes, self.outputs())

    def _template_argument(self, body: dict[str, Any]) -> dict[str, str]:
        text = json.dumps(body, separators=(",", ":"))
        if len(text.encode()) <= INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": text}
        bucket = self.ensure_artifacts_bucket()
        import hashlib

        key = f"lakebox/template-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        s3 = self.client("s3")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
        return {"TemplateURL": url}

    def _poll(self, timeout: float) -> Iterator[None]:
        """Yield until the deadline, sleeping with capped exponential backoff between yields."""
        deadline = self._clock() + timeout
        delay = 0.5
        while True:
            yield
            if self._clock() >= deadline:
                raise StackError(f"timed out after {timeout:g} s waiting for stack {self.stack}")
            self._sleep(delay)
            delay = min(delay * 1.5, 10.0)

    def _wait_change_set(self, name: str, timeout: float) -> dict[str, Any]:
        for _ in self._poll(timeout):
            cs = self.cfn.describe_change_set(StackName=self.stack, ChangeSetName=name)
            if cs.get("Status") in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE"):
                return dict(cs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_stack(self, started: float, timeout: float) -> str:
        """Wait for a terminal status, logging each new stack event once (the progress the CLI shows)."""
        seen: set[str] = set()
        for _ in self._poll(timeout):
            try:
                events = self.cfn.describe_stack_events(StackName=self.stack).get("StackEvents", [])
            except Exception as exc:
                if "does not exist" in str(exc):
                    return "DELETE_COMPLETE"
                raise
            for e in reversed(events):
                if e["EventId"] in seen:
                    continue
                seen.add(e["EventId"])
                reason = f" - {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else ""
                self.log(f"{e.get('ResourceStatus', ''):<20} {e.get('LogicalResourceId', '')}"
                         f" ({e.get('ResourceType', '')}){reason}")
            desc = self.describe()
            if desc is None:
                return "DELETE_COMPLETE"
            status = str(desc["StackStatus"])
            if status in TERMINAL_OK or status in TERMINAL_BAD:
                return status
        raise AssertionError("unreachable")  # pragma: no cover

    # --- down --------------------------------------------------------------------------------------------

    def count_objects(self, bucket: str) -> int:
        """Objects in the bucket counting every version and delete marker (a versioned bucket is only
        empty, and deletable, when all of them are gone)."""
        s3 = self.client("s3")
        n = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            n += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        return n

    def empty_bucket(self, bucket: str) -> int:
        s3 = self.client("s3")
        deleted = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                     for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
            for i in range(0, len(items), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": items[i:i + 1000], "Quiet": True})
                deleted += len(items[i:i + 1000])
        return deleted

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.client("s3").head_bucket(Bucket=bucket)
        except Exception as exc:
            if "404" in str(exc) or "Not Found" in str(exc) or "NoSuchBucket" in str(exc):
                return False
            raise
        return True

    def down(self, *, delete_data: bool = False, timeout: float = 1800.0) -> str:
        """Delete the stack. The lake bucket is deleted too, but only if it is empty or ``delete_data``."""
        desc = self.describe()
        if desc is None:
            raise StackError(f"stack {self.stack} does not exist")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}
        params = {p["ParameterKey"]: p.get("ParameterValue") for p in desc.get("Parameters", [])}
        bucket = outputs.get("BucketName") or params.get("BucketName") or ""
        if bucket and self.bucket_exists(bucket):
            n = self.count_objects(bucket)
            if n and not delete_data:
                raise StackError(f"bucket {bucket} still holds {n} object version(s); copy out what you need and "
                                 "run again with --delete-data, which deletes them all")
            if n:
                self.log(f"deleting {n} object version(s) from s3://{bucket} ...")
                self.empty_bucket(bucket)
        self.log(f"deleting stack {self.stack} ...")
        started = self._clock()
        self.cfn.delete_stack(StackName=self.stack)
        final = self._wait_stack(started, timeout)
        if final != "DELETE_COMPLETE":
            raise StackError(f"stack {self.stack} ended {final}")
        if bucket and self.bucket_exists(bucket):
            # DeletionPolicy Retain kept it; it is empty now (checked above), so remove it as promised.
            self.client("s3").delete_bucket(Bucket=bucket)
            self.log(f"deleted bucket s3://{bucket}")
        return final
