"""A small IAM policy evaluator, and the authorisations each AWS call lakebox makes needs.

Two halves:

* :func:`needs` turns one recorded :class:`~lakebox.deploy.trace.Call` into the IAM authorisations AWS checks
  for it (action, resource ARN, condition keys), following the service authorisation reference: S3 HeadObject
  is ``s3:GetObject`` on the object; a GetObject/HeadObject answered 404 also needed ``s3:ListBucket`` on the
  bucket (without it S3 answers 403); ListObjectsV2 is ``s3:ListBucket`` on the bucket with ``s3:prefix``;
  a Glue table action needs the catalog, the database and the table ARN; GetDatabases needs the catalog
  and ``database/*``; Athena actions are on the workgroup. An operation lakebox has not been taught is an
  error, so a new call can never slip past the check.
* :class:`Policy` evaluates those authorisations against policy statements (actions and resources with ``*``
  and ``?`` wildcards, NotAction, the StringLike/StringEquals/ArnLike/Bool condition operators and their
  IfExists forms, explicit Deny), and remembers which (statement, action, resource) grants were used.
  :func:`resolve` turns the template's intrinsics (Ref, Fn::Sub, Fn::Join, Fn::If, Fn::GetAtt) into plain
  strings for one stack, account and region.

What it does not model (and lakebox's policies do not use): permission boundaries, SCPs, resource policies
other than the bucket's Deny, session policies, NotResource, numeric and date operators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from lakebox.core.errors import LakeboxError
from lakebox.deploy.trace import Call


@dataclass(frozen=True)
class Need:
    """One authorisation a call needs."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        ctx = "".join(f" [{k}={v}]" for k, v in self.context)
        return f"{self.action} on {self.resource}{ctx}"


class UnknownOperation(LakeboxError, KeyError, code="UnknownOperation"):
    """A call whose authorisation this module does not know yet: teach :func:`needs` about it."""


@dataclass
class Where:
    """Account, partition and what the trace learnt about earlier calls (an Athena execution's workgroup)."""

    account: str
    partition: str = "aws"
    default_workgroup: str = "primary"
    workgroups: dict[str, str] = field(default_factory=dict)


def _s3_object(w: Where, bucket: str, key: str) -> str:
    return f"arn:{w.partition}:s3:::{bucket}/{key}"


def _s3_bucket(w: Where, bucket: str) -> str:
    return f"arn:{w.partition}:s3:::{bucket}"


#: S3 bucket-level operations: the action on the bucket ARN.
_S3_BUCKET_ACTIONS = {
    "CreateBucket": "s3:CreateBucket", "DeleteBucket": "s3:DeleteBucket", "HeadBucket": "s3:ListBucket",
    "GetBucketLocation": "s3:GetBucketLocation", "GetBucketAcl": "s3:GetBucketAcl",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock", "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutBucketVersioning": "s3:PutBucketVersioning", "PutBucketTagging": "s3:PutBucketTagging",
    "PutBucketPolicy": "s3:PutBucketPolicy", "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketTagging": "s3:GetBucketTagging",
}
_S3_OBJECT_WRITES = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
#: Glue Data Catalog actions on one table: catalog, database and table ARNs.
_GLUE_TABLE_OPS = {"GetTable", "CreateTable", "UpdateTable", "DeleteTable", "GetPartitions", "GetPartition",
                   "BatchCreatePartition", "BatchDeletePartition", "BatchGetPartition", "CreatePartition",
                   "UpdatePartition", "BatchUpdatePartition", "GetTableVersions"}


def _s3(call: Call, w: Where) -> list[Need]:
    p, op = call.params, call.operation
    bucket = str(p.get("Bucket", ""))
    if op in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if p.get("VersionId") else "s3:GetObject"
        out = [Need(action, _s3_object(w, bucket, p["Key"]))]
        if call.status == 404:
            # S3 says 404 (not 403) for a missing key only to callers allowed to list the bucket; that check
            # carries no prefix.
            out.append(Need("s3:ListBucket", _s3_bucket(w, bucket)))
        return out
    if op in _S3_OBJECT_WRITES:
        return [Need("s3:PutObject", _s3_object(w, bucket, p["Key"]))]
    if op == "AbortMultipartUpload":
        return [Need("s3:AbortMultipartUpload", _s3_object(w, bucket, p["Key"]))]
    if op == "DeleteObject":
        action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
        return [Need(action, _s3_object(w, bucket, p["Key"]))]
    if op == "DeleteObjects":
        return [Need("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                     _s3_object(w, bucket, o["Key"])) for o in p["Delete"]["Objects"]]
    if op == "CopyObject":
        src = p["CopySource"]
        src_bucket, _, src_key = (src if isinstance(src, str) else f"{src['Bucket']}/{src['Key']}").partition("/")
        return [Need("s3:GetObject", _s3_object(w, src_bucket, src_key)),
                Need("s3:PutObject", _s3_object(w, bucket, p["Key"]))]
    if op in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
        action = "s3:ListBucketVersions" if op == "ListObjectVersions" else "s3:ListBucket"
        return [Need(action, _s3_bucket(w, bucket), (("s3:prefix", str(p.get("Prefix", ""))),))]
    if op == "ListBuckets":
        return [Need("s3:ListAllMyBuckets", "*")]
    if op in _S3_BUCKET_ACTIONS:
        return [Need(_S3_BUCKET_ACTIONS[op], _s3_bucket(w, bucket))]
    raise UnknownOperation(f"s3:{op}")


def _glue(call: Call, w: Where) -> list[Need]:
    p, op = call.params, call.operation
    base = f"arn:{w.partition}:glue:{call.region}:{w.account}"
    catalog = f"{base}:catalog"

    def arns(db: str, table: str | None = None) -> list[str]:
        out = [catalog, f"{base}:database/{db.lower()}"]
        return out + ([f"{base}:table/{db.lower()}/{table.lower()}"] if table is not None else [])

    action = f"glue:{op}"
    if op in _GLUE_TABLE_OPS:
        table = p.get("Name") if op in ("GetTable", "DeleteTable") else p.get("TableName")
        if op in ("CreateTable", "UpdateTable"):
            table = p["TableInput"]["Name"]
        return [Need(action, a) for a in arns(p["DatabaseName"], table)]
    if op == "GetTables":
        return [Need(action, a) for a in [*arns(p["DatabaseName"]), f"{base}:table/{p['DatabaseName'].lower()}/*"]]
    if op == "GetDatabases":
        return [Need(action, catalog), Need(action, f"{base}:database/*")]
    if op in ("GetDatabase", "CreateDatabase", "DeleteDatabase"):
        name = p.get("Name") or p["DatabaseInput"]["Name"]
        return [Need(action, a) for a in arns(name)]
    if op in ("StartCrawler", "GetCrawler", "StopCrawler"):
        return [Need(action, f"{base}:crawler/{p['Name']}")]
    raise UnknownOperation(f"glue:{op}")


def _athena(call: Call, w: Where) -> list[Need]:
    p, op = call.params, call.operation
    if op == "StartQueryExecution":
        wg = p.get("WorkGroup") or w.default_workgroup
    elif op in ("GetWorkGroup",):
        wg = p["WorkGroup"]
    elif op == "ListQueryExecutions":
        wg = p.get("WorkGroup") or w.default_workgroup
    elif op in ("GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetQueryRuntimeStatistics"):
        wg = w.workgroups.get(p["QueryExecutionId"], w.default_workgroup)
    elif op == "BatchGetQueryExecution":
        wgs = {w.workgroups.get(i, w.default_workgroup) for i in p["QueryExecutionIds"]}
        return [Need(f"athena:{op}", _workgroup(call, w, g)) for g in sorted(wgs)]
    else:
        raise UnknownOperation(f"athena:{op}")
    return [Need(f"athena:{op}", _workgroup(call, w, wg))]


def _workgroup(call: Call, w: Where, name: str) -> str:
    return f"arn:{w.partition}:athena:{call.region}:{w.account}:workgroup/{name}"


def _cloudformation(call: Call, w: Where) -> list[Need]:
    op = call.operation
    if op in ("ValidateTemplate", "GetTemplateSummary", "ListStacks", "DescribeStacks") and \
            "StackName" not in call.params:
        return [Need(f"cloudformation:{op}", "*")]
    stack = call.params["StackName"]
    arn = stack if stack.startswith("arn:") else \
        f"arn:{w.partition}:cloudformation:{call.region}:{w.account}:stack/{stack}/*"
    return [Need(f"cloudformation:{op}", arn)]


def _ssm(call: Call, w: Where) -> list[Need]:
    name = str(call.params["Name"])
    arn = f"arn:{w.partition}:ssm:{call.region}:{w.account}:parameter/{name.lstrip('/')}"
    if call.operation in ("GetParameter", "PutParameter", "DeleteParameter"):
        return [Need(f"ssm:{call.operation}", arn)]
    raise UnknownOperation(f"ssm:{call.operation}")


def needs(call: Call, where: Where) -> list[Need]:
    """The authorisations AWS checks for ``call``. Raises :class:`UnknownOperation` for an operation not
    taught here. STS GetCallerIdentity needs none (AWS always allows it)."""
    if call.service == "sts" and call.operation == "GetCallerIdentity":
        return []
    handlers = {"s3": _s3, "glue": _glue, "athena": _athena, "cloudformation": _cloudformation, "ssm": _ssm}
    try:
        handler = handlers[call.service]
    except KeyError:
        raise UnknownOperation(f"{call.service}:{call.operation}") from None
    return handler(call, where)


def learn(call: Call, where: Where) -> None:
    """Remember what later calls' authorisation depends on (an Athena execution's workgroup)."""
    qid = call.response.get("QueryExecutionId")
    if qid and call.operation == "StartQueryExecution":
        where.workgroups[qid] = call.params.get("WorkGroup") or where.default_workgroup


# --- the evaluator ------------------------------------------------------------------------------------------

@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's matching: ``*`` any run of characters (``/`` included), ``?`` any one character."""
    return _pattern(glob, ignore_case).fullmatch(value) is not None


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list) else [x]


@dataclass(frozen=True)
class Grant:
    """One (statement, action pattern, resource pattern) of a policy: the unit "used or not" is counted in."""

    sid: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.sid}: {self.action} on {self.resource}"


def _condition_ok(conditions: Mapping[str, Mapping[str, Any]], ctx: Mapping[str, str]) -> bool:
    for op, block in conditions.items():
        if_exists = op.endswith("IfExists")
        base = op.removesuffix("IfExists")
        for key, wanted in block.items():
            values = [str(v) for v in _as_list(wanted)]
            if key not in ctx:
                if if_exists:
                    continue
                return False
            have = ctx[key]
            if base in ("StringLike", "ArnLike"):
                ok = any(wildcard_match(v, have) for v in values)
            elif base in ("StringEquals", "ArnEquals"):
                ok = have in values
            elif base == "StringNotLike":
                ok = not any(wildcard_match(v, have) for v in values)
            elif base == "StringNotEquals":
                ok = have not in values
            elif base == "Bool":
                ok = have.lower() in [v.lower() for v in values]
            else:
                raise ValueError(f"condition operator {op} is not modelled")
            if not ok:
                return False
    return True


class Policy:
    """Statements of one principal's identity policies (plus Deny statements that apply to it)."""

    def __init__(self, statements: Iterable[Mapping[str, Any]]) -> None:
        self.statements = [dict(s) for s in statements]
        self.used: set[Grant] = set()

    def grants(self) -> set[Grant]:
        """Every Allow (statement, action, resource) triple."""
        out = set()
        for i, st in enumerate(self.statements):
            if st["Effect"] != "Allow":
                continue
            for a in _as_list(st.get("Action", [])):
                for r in _as_list(st.get("Resource", "*")):
                    out.add(Grant(st.get("Sid", f"#{i}"), a, r))
        return out

    def _matches(self, st: Mapping[str, Any], need: Need) -> list[Grant]:
        if "NotAction" in st:
            if any(wildcard_match(a, need.action, ignore_case=True) for a in _as_list(st["NotAction"])):
                return []
            actions = ["<NotAction>"]
        else:
            actions = [a for a in _as_list(st.get("Action", [])) if wildcard_match(a, need.action, ignore_case=True)]
        if not actions:
            return []
        resources = [r for r in _as_list(st.get("Resource", "*")) if wildcard_match(r, need.resource)]
        if not resources or not _condition_ok(st.get("Condition", {}), dict(need.context)):
            return []
        return [Grant(st.get("Sid", ""), a, r) for a in actions for r in resources]

    def grants_for(self, need: Need) -> list[Grant] | None:
        """The Allow grants that authorise ``need``, or None when it is denied (an explicit Deny wins, and
        without a matching Allow the default is deny)."""
        allowed: list[Grant] = []
        for i, st in enumerate(self.statements):
            hits = self._matches(st, need)
            if not hits:
                continue
            if st["Effect"] == "Deny":
                return None
            allowed += [Grant(st.get("Sid", f"#{i}"), g.action, g.resource) for g in hits]
        return allowed or None


@dataclass
class RoleReport:
    """A role's policy checked against what was done with it."""

    role: str
    grants: set[Grant]
    denied: list[tuple[str, Need]] = field(default_factory=list)
    #: grant -> the calls (or service-side uses) it authorised
    uses: dict[Grant, set[str]] = field(default_factory=dict)

    def merge(self, other: RoleReport) -> None:
        """Add another run's findings for the same role."""
        self.denied += other.denied
        for g, labels in other.uses.items():
            self.uses.setdefault(g, set()).update(labels)

    @property
    def unused(self) -> list[Grant]:
        return sorted((g for g in self.grants if g not in self.uses), key=str)

    def problems(self) -> list[str]:
        return ([f"{self.role}: {call} needs {need}, which the policy does not allow" for call, need in self.denied]
                + [f"{self.role}: {g} is granted but never used" for g in self.unused])


def check_role(role: str, policy: Policy, calls: Iterable[Call], where: Where,
               service_side: Iterable[tuple[Need, str]] = (),
               context: Mapping[str, str] | None = None) -> RoleReport:
    """Evaluate every call (and every declared service-side use) against ``policy``."""
    report = RoleReport(role, policy.grants())
    ctx = dict(context or {})

    def one(label: str, need: Need) -> None:
        grants = policy.grants_for(_with(need, ctx))
        if grants is None:
            report.denied.append((label, need))
            return
        for g in grants:
            report.uses.setdefault(g, set()).add(label)

    for call in calls:
        call_needs = needs(call, where)
        fallback = DENIAL_FALLBACKS.get((call.service, call.operation))
        if fallback is not None and any(policy.grants_for(_with(n, ctx)) is None for n in call_needs):
            # lakebox handles this denial: it makes the fallback call instead (see DENIAL_FALLBACKS).
            call = fallback(call)
            call_needs = needs(call, where)
        for need in call_needs:
            one(describe_call(call), need)
        learn(call, where)
    for need, by in service_side:
        one(by, need)
    return report


def _with(need: Need, ctx: Mapping[str, str]) -> Need:
    return Need(need.action, need.resource, tuple(sorted({**ctx, **dict(need.context)}.items())))


def _create_database_denied(call: Call) -> Call:
    name = call.params["DatabaseInput"]["Name"]
    return Call("glue", "GetDatabase", {"Name": name}, call.region, 200)


#: Calls whose AccessDenied lakebox handles by making another call: GlueCatalog.create_database falls back
#: to GetDatabase (roles that may not create the database only need to see it).
DENIAL_FALLBACKS = {("glue", "CreateDatabase"): _create_database_denied}


def describe_call(call: Call) -> str:
    """``S3 HeadObject raw/* (404)``-style label: the operation and the shape of what it touched."""
    p = call.params
    target = p.get("Key") or p.get("Prefix") or p.get("Name") or p.get("TableName") or p.get("DatabaseName") or ""
    if isinstance(target, str) and "/" in target:
        parts = target.split("/")
        keep = 2 if parts[0] == "_lakebox" and len(parts) > 2 else 1
        target = "/".join(parts[:keep]) + "/*"
    if call.operation in ("CreateTable", "UpdateTable"):
        target = ""
    suffix = f" ({call.status})" if call.status and call.status >= 300 else ""
    return f"{call.service}:{call.operation}" + (f" {target}" if target else "") + suffix


# --- template intrinsics ------------------------------------------------------------------------------------

@dataclass
class Stack:
    """What :func:`resolve` needs to turn a template's intrinsics into strings for one stack."""

    name: str
    account: str
    region: str
    parameters: dict[str, str]
    conditions: dict[str, bool] = field(default_factory=dict)
    partition: str = "aws"
    #: Physical values of resources: {"FailedEventsQueue": ..., "FailedEventsQueue.Arn": ...}.
    resources: dict[str, str] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::AccountId": self.account, "AWS::Region": self.region, "AWS::Partition": self.partition,
                  "AWS::StackName": self.name, "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        return self.resources.get(name, f"<{name}>")

    def get_att(self, name: str) -> str:
        return self.resources.get(name, f"<{name}>")


_NO_VALUE = object()


def _sub(text: str, stack: Stack, extra: Mapping[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        var = m.group(1)
        if var in extra:
            return str(extra[var])
        if "." in var and not var.startswith("AWS::"):
            return stack.get_att(var)
        return str(stack.ref(var))

    return re.sub(r"\$\{([^}!]+)\}", one, text).replace("${!", "${")


def resolve(value: Any, stack: Stack) -> Any:
    """The value with every intrinsic evaluated; ``AWS::NoValue`` removes list items and keys."""
    if isinstance(value, list):
        return [v for v in (resolve(x, stack) for x in value) if v is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return stack.ref(arg)
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return _sub(arg, stack, {})
            return _sub(arg[0], stack, {k: resolve(v, stack) for k, v in arg[1].items()})
        if key == "Fn::Join":
            return arg[0].join(str(resolve(x, stack)) for x in arg[1])
        if key == "Fn::If":
            return resolve(arg[1] if stack.conditions[arg[0]] else arg[2], stack)
        if key == "Fn::GetAtt":
            name = ".".join(arg) if isinstance(arg, list) else arg
            return stack.get_att(name)
        if key == "Fn::Equals":
            return resolve(arg[0], stack) == resolve(arg[1], stack)
    return {k: r for k, r in ((k, resolve(v, stack)) for k, v in value.items()) if r is not _NO_VALUE}


def evaluate_conditions(template: Mapping[str, Any], stack: Stack) -> dict[str, bool]:
    """The template's Conditions for the stack's parameters (Fn::Equals, Fn::Not, Fn::And, Fn::Or)."""
    out: dict[str, bool] = {}

    def ev(expr: Any) -> bool:
        (key, arg), = expr.items()
        if key == "Fn::Equals":
            return bool(resolve(arg[0], stack) == resolve(arg[1], stack))
        if key == "Fn::Not":
            return not ev(arg[0])
        if key == "Fn::And":
            return all(ev(a) for a in arg)
        if key == "Fn::Or":
            return any(ev(a) for a in arg)
        if key == "Condition":
            return out[arg] if arg in out else ev(template["Conditions"][arg])
        raise ValueError(f"condition function {key} is not modelled")

    for name, expr in template.get("Conditions", {}).items():
        out[name] = ev(expr)
    return out


def role_statements(template: Mapping[str, Any], role: str, stack: Stack) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies, resolved for the stack."""
    if not stack.conditions:
        stack.conditions = evaluate_conditions(template, stack)
    props = resolve(template["Resources"][role]["Properties"], stack)
    return [st for pol in props.get("Policies", []) for st in pol["PolicyDocument"]["Statement"]]


def bucket_policy_denies(template: Mapping[str, Any], stack: Stack) -> list[dict[str, Any]]:
    """The bucket policy's Deny statements (they apply to every principal)."""
    if not stack.conditions:
        stack.conditions = evaluate_conditions(template, stack)
    out = []
    for res in template["Resources"].values():
        if res["Type"] == "AWS::S3::BucketPolicy":
            doc = resolve(res["Properties"]["PolicyDocument"], stack)
            out += [st for st in doc["Statement"] if st["Effect"] == "Deny"]
    return out
