"""``lakebox deploy up|down|status``: the stack's lifecycle with boto3's CloudFormation client.

``up`` goes through a change set. On an update, every parameter the caller does not set keeps its previous
value (``UsePreviousValue``), so leaving out ``--dashboard`` or ``--bucket`` never deletes the dashboard host
or replaces the bucket. ``--dry-run`` changes nothing anywhere: it builds the package locally, reads the
artifacts bucket's name, and shows what would change (for an existing stack through a change set that it
deletes again; for a new stack from the template itself, validated by CloudFormation), uploading nothing.

The function's zip and the host's wheel go to the artifacts bucket under content-addressed keys. That bucket
is named ``lakebox-artifacts-<account>-<region>-<random>``; the name is kept in the account's SSM parameter
``/lakebox/artifacts-bucket``, and every S3 call on it carries ``ExpectedBucketOwner``, so a bucket of the
same name created by someone else is refused rather than trusted.

``down`` refuses to delete a lake that still holds objects (any version) unless ``delete_data`` is set: the
bucket has ``DeletionPolicy: RetainExceptOnCreate`` so CloudFormation never deletes data by itself, and
``down`` deletes the bucket explicitly (emptied, when asked to) after the stack is gone.

Every AWS failure becomes a :class:`StackError` with one line: what failed, AWS's error code, what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.deploy import template as tpl
from lakebox.deploy.iam import ARTIFACTS_PARAMETER

TERMINAL_OK = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
TERMINAL_BAD = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE",
                "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED", "IMPORT_ROLLBACK_COMPLETE"}
INLINE_TEMPLATE_LIMIT = 51_200  # bytes CloudFormation accepts as TemplateBody; larger goes via S3

#: What to do about an AWS error code (the line's last part).
HINTS = {
    "AccessDenied": "the deploying identity lacks this permission; `lakebox deploy policy` prints what it needs",
    "AccessDeniedException": "the deploying identity lacks this permission; `lakebox deploy policy` prints "
                             "what it needs",
    "UnauthorizedOperation": "the deploying identity lacks this permission",
    "InsufficientCapabilitiesException": "the stack creates IAM roles: the identity needs CAPABILITY_IAM rights",
    "ExpiredToken": "your credentials expired; refresh them (aws sso login, or new keys)",
    "ExpiredTokenException": "your credentials expired; refresh them (aws sso login, or new keys)",
    "InvalidClientTokenId": "the access key is not valid in this account or region",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "ValidationError": "CloudFormation rejected the request as shown",
    "LimitExceededException": "an account limit was reached; see the message",
    "Throttling": "AWS throttled the calls; wait a minute and run again",
    "BucketAlreadyExists": "that bucket name belongs to another account; pass another --bucket",
}


class StackError(LakeboxError, RuntimeError, code="DeployError"):
    """A stack operation cannot proceed or failed; the message says why and what to do. ``code`` is the AWS
    error code when AWS answered with one."""


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


def bucket_name_for(stack: str, account: str, region: str) -> str:
    """The lake bucket's default name: ``<stack>-<account>-<region>``, lower case, at most 63 characters (so
    one stack name in two regions gets two buckets)."""
    tail = f"-{account}-{region}"
    base = re.sub(r"[^a-z0-9-]", "-", stack.lower()).strip("-") or "lakebox"
    return f"{base[:63 - len(tail)].rstrip('-')}{tail}"


def aws_error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError (``""`` for anything else)."""
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _aws_message(exc: BaseException) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "") or exc)


@contextmanager
def aws_step(what: str) -> Iterator[None]:
    """Turn any AWS or botocore failure inside into one StackError line: what failed, the code, what to do."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        yield
    except ClientError as exc:
        code = aws_error_code(exc)
        hint = HINTS.get(code, "see the message")
        raise StackError(f"{what} failed: {code}: {_aws_message(exc)} ({hint})", code=code or None) from exc
    except NoCredentialsError as exc:
        raise StackError(f"{what} failed: no AWS credentials (configure a profile, `aws configure`, "
                         "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)") from exc
    except NoRegionError as exc:
        raise StackError(f"{what} failed: no AWS region (pass --region, or set AWS_REGION or a profile's "
                         "region)") from exc
    except EndpointConnectionError as exc:
        raise StackError(f"{what} failed: cannot reach {exc.kwargs.get('endpoint_url')} "
                         "(network, or a wrong --region/--endpoint-url)") from exc
    except BotoCoreError as exc:
        raise StackError(f"{what} failed: {exc}") from exc


class StackManager:
    """Runs the deploy commands. Clients come from a boto3 session built on first use (the region from
    ``region``, else boto3's chain: AWS_REGION, AWS_DEFAULT_REGION, the profile); ``log`` receives progress
    lines (the CLI prints them with rich); ``sleep``/``clock`` are injectable for tests."""

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
        self._account: str | None = None

    # --- clients ------------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                import boto3

                self._session = boto3.session.Session(region_name=self.region)
            with aws_step(f"creating the {service} client"):
                self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url,
                                                              region_name=self.region)
        return self._clients[service]

    @property
    def cfn(self) -> Any:
        return self.client("cloudformation")

    def account_id(self) -> str:
        if self._account is None:
            with aws_step("reading the caller's account (sts GetCallerIdentity)"):
                self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account

    def region_name(self) -> str:
        region = self.region or self.cfn.meta.region_name
        if not region:  # pragma: no cover - botocore raises NoRegionError first
            raise StackError("no AWS region: pass --region, or set AWS_REGION or a profile's region")
        return str(region)

    # --- reading the stack -------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any] | None:
        """DescribeStacks for this stack, or None when it does not exist (or is fully deleted)."""
        from botocore.exceptions import ClientError

        with aws_step(f"describing stack {self.stack}"):
            try:
                stacks = self.cfn.describe_stacks(StackName=self.stack)["Stacks"]
            except ClientError as exc:
                # The name is valid (checked in __init__), so a ValidationError means "no such stack".
                if aws_error_code(exc) == "ValidationError":
                    return None
                raise
        if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
            return None
        return dict(stacks[0])

    def outputs(self) -> dict[str, str]:
        desc = self.describe() or {}
        return {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}

    def events(self) -> list[dict[str, Any]]:
        """The stack's events, newest first (one page: the most recent 100)."""
        from botocore.exceptions import ClientError

        with aws_step(f"reading the events of stack {self.stack}"):
            try:
                return list(self.cfn.describe_stack_events(StackName=self.stack).get("StackEvents", []))
            except ClientError as exc:
                if aws_error_code(exc) == "ValidationError":  # deleted meanwhile
                    return []
                raise

    def status(self) -> dict[str, Any]:
        """What ``lakebox deploy status`` shows: state, outputs, parameters, the latest events and, for a
        failed stack, the first failure's reason."""
        desc = self.describe()
        if desc is None:
            return {"stack": self.stack, "status": "DOES_NOT_EXIST", "region": self.region_name()}
        events = self.events()
        info: dict[str, Any] = {
            "stack": self.stack,
            "region": self.region_name(),
            "status": desc["StackStatus"],
            "reason": desc.get("StackStatusReason"),
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])},
            "parameters": {p["ParameterKey"]: p.get("ParameterValue") for p in desc.get("Parameters", [])
                           if p["ParameterKey"] not in ("CodeKey",)},
            "events": [_event_line(e) for e in events[:10]],
        }
        if desc["StackStatus"] in TERMINAL_BAD or desc["StackStatus"].endswith("ROLLBACK_IN_PROGRESS"):
            info["first_failure"] = first_failure(events)
        return info

    # --- artifacts ----------------------------------------------------------------------------------------

    def find_artifacts_bucket(self) -> str | None:
        """The artifacts bucket recorded in SSM, checked to belong to this account; None if none yet."""
        from botocore.exceptions import ClientError

        ssm = self.client("ssm")
        with aws_step(f"reading SSM parameter {ARTIFACTS_PARAMETER}"):
            try:
                name = str(ssm.get_parameter(Name=ARTIFACTS_PARAMETER)["Parameter"]["Value"])
            except ClientError as exc:
                if aws_error_code(exc) == "ParameterNotFound":
                    return None
                raise
        account = self.account_id()
        with aws_step(f"checking artifacts bucket {name}"):
            try:
                self.client("s3").head_bucket(Bucket=name, ExpectedBucketOwner=account)
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 404:
                    return None  # deleted by hand: a new one (new random name) is made
                if status == 403:
                    raise StackError(
                        f"artifacts bucket {name} (from SSM parameter {ARTIFACTS_PARAMETER}) is not owned by "
                        f"account {account}; refusing to upload code to it. Delete the parameter to make a "
                        "new bucket.") from exc
                raise
        return name

    def ensure_artifacts_bucket(self) -> str:
        """The artifacts bucket, created on first use (private, encrypted, random suffix) and recorded in SSM."""
        from botocore.exceptions import ClientError

        found = self.find_artifacts_bucket()
        if found is not None:
            return found
        s3, account, region = self.client("s3"), self.account_id(), self.region_name()
        for _ in range(5):
            name = f"lakebox-artifacts-{account}-{region}-{secrets.token_hex(4)}"
            kwargs: dict[str, Any] = {"Bucket": name}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            with aws_step(f"creating artifacts bucket {name}"):
                try:
                    s3.create_bucket(**kwargs)
                except ClientError as exc:
                    if aws_error_code(exc) == "BucketAlreadyExists":  # someone else's: draw again
                        continue
                    raise
            break
        else:
            raise StackError("could not find a free artifacts bucket name after 5 tries")
        with aws_step(f"securing artifacts bucket {name}"):
            s3.put_public_access_block(Bucket=name, ExpectedBucketOwner=account, PublicAccessBlockConfiguration={
                "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True})
            s3.put_bucket_encryption(Bucket=name, ExpectedBucketOwner=account, ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        with aws_step(f"recording the artifacts bucket in SSM parameter {ARTIFACTS_PARAMETER}"):
            self.client("ssm").put_parameter(Name=ARTIFACTS_PARAMETER, Value=name, Type="String", Overwrite=True,
                                             Description="lakebox deploy's artifacts bucket (lakebox deploy up)")
        self.log(f"created artifacts bucket s3://{name}")
        return name

    def upload(self, bucket: str, path: Path, key: str) -> None:
        """Upload ``path`` under a content-addressed ``key`` unless it is there already (same key, same bytes)."""
        from botocore.exceptions import ClientError

        s3, account = self.client("s3"), self.account_id()
        with aws_step(f"uploading s3://{bucket}/{key}"):
            try:
                s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=account)
                self.log(f"unchanged: s3://{bucket}/{key}")
                return
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                    raise
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ExpectedBucketOwner=account)
        self.log(f"uploaded s3://{bucket}/{key}")

    # --- up ----------------------------------------------------------------------------------------------

    def up(
        self,
        *,
        zip_path: Path | None = None,
        arch: str | None = None,
        parameters: dict[str, str] | None = None,
        template: dict[str, Any] | None = None,
        dry_run: bool = False,
        timeout: float = 1800.0,
        package_kwargs: dict[str, Any] | None = None,
    ) -> UpResult:
        """Create or update the stack through a change set; with ``dry_run`` only show what would change.

        ``parameters`` are the ones the caller chose; on an update every other parameter keeps its value.
        """
        body = template or tpl.build_template()
        account, region = self.account_id(), self.region_name()
        existing = self.describe()
        if existing is not None and existing["StackStatus"] == "REVIEW_IN_PROGRESS":
            existing = None  # a stack that only ever had a change set: still a CREATE
        if existing is not None:
            status = str(existing["StackStatus"])
            if status == "ROLLBACK_COMPLETE":
                raise StackError(f"stack {self.stack} is ROLLBACK_COMPLETE (its creation failed: "
                                 f"{first_failure(self.events())}); run `lakebox deploy down` first, then `up` again")
            if status.endswith("_IN_PROGRESS"):
                raise StackError(f"stack {self.stack} is {status}; wait until it finishes "
                                 f"(`lakebox deploy status --stack {self.stack}`) and run again")
        previous = {p["ParameterKey"]: p.get("ParameterValue") for p in (existing or {}).get("Parameters", [])}
        chosen = dict(parameters or {})
        if arch is not None:
            chosen["Architecture"] = arch
        if existing is None:
            chosen.setdefault("BucketName", bucket_name_for(self.stack, account, region))
        arch = chosen.get("Architecture") or previous.get("Architecture") or "x86_64"

        bucket = self.find_artifacts_bucket() if dry_run else self.ensure_artifacts_bucket()
        with tempfile.TemporaryDirectory(prefix="lakebox-up-") as tmp:
            uploads: list[tuple[Path, str]] = []
            if "CodeKey" not in chosen:
                zip_file, key = self._function_package(zip_path, arch, Path(tmp), package_kwargs)
                chosen["CodeKey"] = key
                uploads.append((zip_file, key))
            host = chosen.get("CreateDashboardHost", previous.get("CreateDashboardHost", "false")) == "true"
            if host and "HostWheelKey" not in chosen:
                from lakebox.deploy.package import build_wheel

                wheel = build_wheel(Path(tmp) / "wheel")
                chosen["HostWheelKey"], chosen["HostWheelSha256"] = wheel.s3_key, wheel.sha256
                uploads.append((wheel.path, wheel.s3_key))
            chosen.setdefault("CodeBucket", bucket or "<new artifacts bucket>")
            if not dry_run and bucket is not None:
                for path, key in uploads:
                    self.upload(bucket, path, key)
        if dry_run and existing is None:
            return self._preview_create(body, chosen)
        params = self._parameters(body, chosen, previous)
        if existing is not None and self._unchanged(body, params, previous):
            return UpResult(self.stack, "NO_CHANGES", [], {}, dry_run=dry_run)
        return self._apply(body, params, "UPDATE" if existing is not None else "CREATE", dry_run, timeout)

    def _unchanged(self, body: dict[str, Any], params: list[dict[str, Any]], previous: dict[str, Any]) -> bool:
        """Same template and same parameter values as the stack has: nothing to do. (CloudFormation would
        answer with an empty, FAILED change set; checking first leaves no change set behind.)"""
        if any("ParameterValue" in p and previous.get(p["ParameterKey"]) != p["ParameterValue"] for p in params):
            return False
        with aws_step(f"reading the template of stack {self.stack}"):
            current = self.cfn.get_template(StackName=self.stack).get("TemplateBody")
        if isinstance(current, str):
            try:
                current = json.loads(current)
            except ValueError:
                return False  # a YAML template from elsewhere: let the change set decide
        return bool(current == json.loads(json.dumps(body)))

    def _function_package(self, zip_path: Path | None, arch: str, tmp: Path,
                          package_kwargs: dict[str, Any] | None) -> tuple[Path, str]:
        from lakebox.deploy.package import PackageError, build_zip, zip_key

        if zip_path is not None:
            return zip_path, zip_key(arch, hashlib.sha256(zip_path.read_bytes()).hexdigest())
        self.log(f"building the function package ({arch}) ...")
        try:
            info = build_zip(tmp / "lambda.zip", arch, **(package_kwargs or {}))
        except PackageError as exc:
            raise StackError(f"building the function package failed: {exc}") from exc
        return info.path, info.s3_key

    @staticmethod
    def _parameters(body: dict[str, Any], chosen: dict[str, str], previous: dict[str, Any]) -> list[dict[str, Any]]:
        """Chosen values, else the stack's previous value (UsePreviousValue), else the template default."""
        out = []
        for key in body.get("Parameters", {}):
            if key in chosen:
                out.append({"ParameterKey": key, "ParameterValue": str(chosen[key])})
            elif key in previous:
                out.append({"ParameterKey": key, "UsePreviousValue": True})
        unknown = sorted(set(chosen) - set(body.get("Parameters", {})))
        if unknown:
            raise StackError(f"unknown template parameter(s): {', '.join(unknown)}")
        return out

    def _preview_create(self, body: dict[str, Any], chosen: dict[str, str]) -> UpResult:
        """A dry run for a stack that does not exist: CloudFormation validates the template (nothing is
        created), and every resource whose condition holds would be added."""
        from lakebox.deploy.authz import Stack, evaluate_conditions

        with aws_step("validating the template"):
            self.cfn.validate_template(**self._template_argument(body, upload=False))
        values = {k: str(v.get("Default", "")) for k, v in body.get("Parameters", {}).items()}
        values.update({k: str(v) for k, v in chosen.items()})
        conditions = evaluate_conditions(body, Stack(self.stack, self.account_id(), self.region_name(), values))
        changes = [Change("Add", name, r["Type"]) for name, r in body["Resources"].items()
                   if conditions.get(r.get("Condition", ""), True)]
        return UpResult(self.stack, "DRY_RUN", changes, {}, dry_run=True)

    def _apply(self, body: dict[str, Any], params: list[dict[str, Any]], change_type: str, dry_run: bool,
               timeout: float) -> UpResult:
        name = f"lakebox-{int(time.time())}"
        kwargs: dict[str, Any] = {
            "StackName": self.stack, "ChangeSetName": name, "ChangeSetType": change_type, "Parameters": params,
            "Capabilities": ["CAPABILITY_IAM"], "Tags": [{"Key": "lakebox:stack", "Value": self.stack}],
        }
        kwargs.update(self._template_argument(body, upload=not dry_run))
        self.log(f"creating change set {name} ({change_type}) for stack {self.stack} ...")
        with aws_step(f"creating change set for stack {self.stack}"):
            self.cfn.create_change_set(**kwargs)
        cs = self._wait_change_set(name, timeout)
        changes = [Change(c["ResourceChange"].get("Action", ""), c["ResourceChange"].get("LogicalResourceId", ""),
                          c["ResourceChange"].get("ResourceType", ""),
                          str(c["ResourceChange"].get("Replacement", "") or ""))
                   for c in cs.get("Changes", []) if "ResourceChange" in c]
        if cs.get("Status") == "FAILED":
            # (An update that changes nothing never gets here: `_unchanged` answered it without a change set.)
            self._delete_change_set(name, change_type)
            raise StackError(f"change set failed: {cs.get('StatusReason')}")
        if dry_run:
            self._delete_change_set(name, change_type)
            return UpResult(self.stack, "DRY_RUN", changes, {}, dry_run=True)
        self.log(f"executing change set: {len(changes)} change(s)")
        last_seen = self._latest_event_id()
        with aws_step(f"executing the change set of stack {self.stack}"):
            self.cfn.execute_change_set(StackName=self.stack, ChangeSetName=name)
        final = self._wait_stack(timeout, last_seen)
        if final not in TERMINAL_OK:
            raise StackError(f"stack {self.stack} ended {final}: {first_failure(self.events())}")
        return UpResult(self.stack, final, changes, self.outputs())

    def _delete_change_set(self, name: str, change_type: str) -> None:
        with aws_step(f"deleting change set {name}"):
            self.cfn.delete_change_set(StackName=self.stack, ChangeSetName=name)
            if change_type == "CREATE":
                # A CREATE change set leaves an empty stack in REVIEW_IN_PROGRESS; remove it too.
                self.cfn.delete_stack(StackName=self.stack)

    def _template_argument(self, body: dict[str, Any], *, upload: bool = True) -> dict[str, str]:
        text = json.dumps(body, separators=(",", ":"))
        if len(text.encode()) <= INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": text}
        if not upload:
            raise StackError("the template is larger than 51,200 bytes and a dry run uploads nothing; "
                             "run without --dry-run, or trim the template")
        bucket = self.ensure_artifacts_bucket()
        key = f"lakebox/template-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        s3 = self.client("s3")
        with aws_step(f"uploading the template to s3://{bucket}/{key}"):
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode(), ExpectedBucketOwner=self.account_id())
            url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
        return {"TemplateURL": url}

    def _poll(self, timeout: float) -> Iterator[None]:
        """Yield until the deadline, sleeping with capped exponential backoff between yields."""
        deadline = self._clock() + timeout
        delay = 0.5
        while True:
            yield
            if self._clock() >= deadline:
                raise StackError(f"timed out after {timeout:g} s waiting for stack {self.stack}; it goes on in "
                                 f"CloudFormation: `lakebox deploy status --stack {self.stack}`")
            self._sleep(delay)
            delay = min(delay * 1.5, 10.0)

    def _wait_change_set(self, name: str, timeout: float) -> dict[str, Any]:
        for _ in self._poll(timeout):
            with aws_step(f"reading change set {name}"):
                cs = self.cfn.describe_change_set(StackName=self.stack, ChangeSetName=name)
            if cs.get("Status") in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE"):
                return dict(cs)
        raise AssertionError("unreachable")  # pragma: no cover

    def _latest_event_id(self) -> str | None:
        events = self.events()
        return str(events[0]["EventId"]) if events else None

    def _wait_stack(self, timeout: float, last_seen: str | None) -> str:
        """Wait for a terminal status, logging each event newer than ``last_seen`` once, oldest first."""
        for _ in self._poll(timeout):
            fresh: list[dict[str, Any]] = []
            for e in self.events():  # newest first
                if e["EventId"] == last_seen:
                    break
                fresh.append(e)
            for e in reversed(fresh):
                self.log(_event_line(e))
            if fresh:
                last_seen = str(fresh[0]["EventId"])
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
        with aws_step(f"listing s3://{bucket}"):
            for page in s3.get_paginator("list_object_versions").paginate(
                    Bucket=bucket, ExpectedBucketOwner=self.account_id()):
                n += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        return n

    def empty_bucket(self, bucket: str) -> int:
        s3 = self.client("s3")
        deleted = 0
        owner = self.account_id()
        with aws_step(f"emptying s3://{bucket}"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, ExpectedBucketOwner=owner):
                items = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                         for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
                for i in range(0, len(items), 1000):
                    s3.delete_objects(Bucket=bucket, ExpectedBucketOwner=owner,
                                      Delete={"Objects": items[i:i + 1000], "Quiet": True})
                    deleted += len(items[i:i + 1000])
        return deleted

    def bucket_exists(self, bucket: str) -> bool:
        """Whether the lake bucket exists and is this account's (a bucket of another account is an error)."""
        from botocore.exceptions import ClientError

        with aws_step(f"checking bucket {bucket}"):
            try:
                self.client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=self.account_id())
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    return False
                raise
        return True

    def down(self, *, delete_data: bool = False, timeout: float = 1800.0) -> str:
        """Delete the stack. The lake bucket is deleted too, but only if it is empty or ``delete_data``."""
        desc = self.describe()
        if desc is None:
            raise StackError(f"stack {self.stack} does not exist in {self.region_name()}")
        if str(desc["StackStatus"]).endswith("_IN_PROGRESS"):
            raise StackError(f"stack {self.stack} is {desc['StackStatus']}; wait until it finishes and run again")
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
        last_seen = self._latest_event_id()
        with aws_step(f"deleting stack {self.stack}"):
            self.cfn.delete_stack(StackName=self.stack)
        final = self._wait_stack(timeout, last_seen)
        if final != "DELETE_COMPLETE":
            raise StackError(f"stack {self.stack} ended {final}: {first_failure(self.events())}")
        if bucket and self.bucket_exists(bucket):
            # RetainExceptOnCreate kept it; it is empty now (checked above), so remove it as promised.
            with aws_step(f"deleting bucket {bucket}"):
                self.client("s3").delete_bucket(Bucket=bucket, ExpectedBucketOwner=self.account_id())
            self.log(f"deleted bucket s3://{bucket}")
        return final


def _event_line(e: dict[str, Any]) -> str:
    reason = f" - {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else ""
    return f"{e.get('ResourceStatus', ''):<20} {e.get('LogicalResourceId', '')} ({e.get('ResourceType', '')}){reason}"


def first_failure(events: list[dict[str, Any]]) -> str:
    """The reason of the earliest ``*_FAILED`` event of the latest operation (the cause; later failures are
    usually "Resource creation cancelled" cascades). ``events`` is newest first, as CloudFormation gives it."""
    latest_op: list[dict[str, Any]] = []
    for e in events:
        latest_op.append(e)
        if e.get("ResourceType") == "AWS::CloudFormation::Stack" and \
                str(e.get("ResourceStatus")) in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS") \
                and e.get("ResourceStatusReason") == "User Initiated":
            break
    for e in reversed(latest_op):
        if str(e.get("ResourceStatus", "")).endswith("_FAILED") and e.get("ResourceStatusReason"):
            return f"first failure: {e.get('LogicalResourceId')} ({e.get('ResourceType')}): {e['ResourceStatusReason']}"
    return "no failure reason recorded; see `lakebox deploy status`"
