"""CloudFormation intrinsic functions as dict builders, and the lake bucket's name and ARNs.

Shared by every part of the template (:mod:`lakebox.deploy.template`, :mod:`lakebox.deploy.resources`,
:mod:`lakebox.deploy.iam`, :mod:`lakebox.deploy.dashboard_host`). Nothing here refers to the bucket resource
to get its name: every ARN is built from the :data:`BUCKET_NAME` string expression, so there is no cycle.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def ref(name: str) -> Json:
    return {"Ref": name}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def get_att(resource: str, attr: str) -> Json:
    return {"Fn::GetAtt": [resource, attr]}


#: The bucket name as a string expression: the parameter, or lakebox-<account>-<region> when it is empty.
BUCKET_NAME: Json = {"Fn::If": ["AutoBucketName", sub("lakebox-${AWS::AccountId}-${AWS::Region}"),
                                ref("BucketName")]}


def join(*parts: Any) -> Json:
    """Concatenate strings and intrinsics as one ``Fn::Sub`` (cfn-lint prefers it to an empty-delimiter
    ``Fn::Join``): a Ref or plain Sub is inlined, anything else becomes a named variable."""
    text, variables = "", {}
    for part in parts:
        if isinstance(part, str):
            text += part.replace("${", "${!")
        elif set(part) == {"Ref"}:
            text += "${" + part["Ref"] + "}"
        elif set(part) == {"Fn::Sub"} and isinstance(part["Fn::Sub"], str):
            text += part["Fn::Sub"]
        elif set(part) == {"Fn::Sub"}:
            inner, inner_vars = part["Fn::Sub"]
            text += inner
            variables.update(inner_vars)
        else:
            name = "LakeBucketName" if part == BUCKET_NAME else f"Part{len(variables)}"
            variables[name] = part
            text += "${" + name + "}"
    return {"Fn::Sub": [text, variables]} if variables else sub(text)


def bucket_arn(suffix: str = "") -> Json:
    """``arn:aws:s3:::<bucket><suffix>`` without referring to the bucket resource (no cycle)."""
    return join("arn:", ref("AWS::Partition"), ":s3:::", BUCKET_NAME, suffix)


def glue_arn(kind: str, tail: Any = "") -> Json:
    parts: list[Any] = [sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{kind}")]
    if tail != "":
        parts += ["/", tail]
    return join(*parts)
