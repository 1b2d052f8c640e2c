"""The table of supported actions in docs/endpoint.md, generated from the services themselves.

    python -m lakebox.endpoint.actions    # prints the Markdown table

Every other action of the three services' botocore models is answered with AWS's own refusal: S3's
``NotImplemented`` (501), Glue's and Athena's ``UnknownOperationException``.
"""

from __future__ import annotations

from lakebox.endpoint.athena import AthenaService
from lakebox.endpoint.glue import GlueService
from lakebox.endpoint.protocol import service_model
from lakebox.endpoint.s3 import S3Service


def supported() -> dict[str, list[str]]:
    """Service name -> the actions the endpoint implements, in the model's order."""
    return {
        "S3": [n for n in service_model("s3").operation_names if n in S3Service.SUPPORTED],
        "Glue": GlueService.supported(),
        "Athena": AthenaService.supported(),
    }


def actions_table() -> str:
    """Markdown: one row per service with its supported actions. (The model's own action count is left out:
    it grows with every botocore release, and the table must not change with the installed version.)"""
    models = {"S3": "s3", "Glue": "glue", "Athena": "athena"}
    lines = ["| service | protocol | supported actions | count |", "|---|---|---|---:|"]
    for name, actions in supported().items():
        protocol = service_model(models[name]).metadata["protocol"]
        shown = ", ".join(f"`{a}`" for a in actions)
        lines.append(f"| {name} | {protocol} | {shown} | {len(actions)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(actions_table(), end="")
