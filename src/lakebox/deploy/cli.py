"""``lakebox deploy ...``: thin click wrappers over template, package and stack.

Settings are resolved once, layered defaults < lakebox.toml < LAKEBOX_* < flags: the global flags the main CLI
stored in ``ctx.obj`` (``lakebox --region R --endpoint-url U deploy status``), with this group's own
``--region``/``--endpoint-url`` (after the subcommand) as the last layer. A test may pass finished settings
in ``ctx.obj["settings"]``.

The region is the flag's (or LAKEBOX_REGION's, or the file's); when none of them sets it, boto3's own chain
decides (AWS_REGION, AWS_DEFAULT_REGION, the profile), never a built-in default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _settings(ctx: click.Context, region: str | None = None, endpoint_url: str | None = None) -> Any:
    obj = ctx.find_root().ensure_object(dict)
    if obj.get("settings") is None:
        from lakebox.config import load_settings

        obj["settings"] = load_settings(obj.get("cli") or {}, config_file=obj.get("config"))
    settings = obj["settings"]
    overrides = {k: v for k, v in (("region", region), ("endpoint_url", endpoint_url)) if v}
    if overrides:
        sources = {**settings.sources, **{k: "command line" for k in overrides}}
        settings = settings.replace(**overrides, sources=sources)
    return settings


def _region(settings: Any) -> str | None:
    """The settings' region when something set it; otherwise None, so boto3's chain (AWS_REGION, ...) decides.
    Only a built-in default is ignored: it would send a deploy to us-east-1 whatever the environment says."""
    if settings.sources.get("region", "default") == "default":
        return None
    return str(settings.region) if settings.region else None


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _manager(ctx: click.Context, stack: str, region: str | None, endpoint_url: str | None) -> Any:
    from lakebox.deploy.stack import StackError, StackManager

    settings = _settings(ctx, region, endpoint_url)
    console = _console()
    try:
        return StackManager(stack, region=_region(settings), endpoint_url=settings.endpoint_url,
                            log=lambda line: console.print(line, markup=False))
    except StackError as exc:
        _fail(exc)


def _fail(exc: Exception) -> Any:
    raise click.ClickException(str(exc)) from exc


stack_option = click.option("--stack", "stack", required=True, help="CloudFormation stack name.")
region_option = click.option("--region", default=None,
                             help="AWS region (default: --region before the command, LAKEBOX_REGION, then "
                                  "boto3's chain: AWS_REGION, AWS_DEFAULT_REGION, the profile).")
endpoint_option = click.option("--endpoint-url", default=None,
                               help="Override the AWS endpoint (moto, LocalStack).")


@click.group("deploy")
@click.pass_context
def deploy(ctx: click.Context) -> None:
    """Run lakebox on AWS: template, Lambda package, and the stack's lifecycle."""
    ctx.ensure_object(dict)


@deploy.command("template")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to a file instead of stdout.")
@click.pass_context
def template_cmd(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Print the CloudFormation template (lint it with cfn-lint, deploy it with `deploy up`). The lake's
    datasets (lakebox.toml) go to the function; a partitioned one gets a Glue table with partition projection."""
    from lakebox.deploy.template import render

    text = render(fmt, _settings(ctx).datasets)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@deploy.command("package")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default="x86_64", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("dist/lakebox-lambda.zip"), show_default=True)
@click.option("--python-version", default="3.12", show_default=True, help="The Lambda runtime's Python.")
@click.option("--find-links", multiple=True, help="Extra wheel folder or index page for pip (repeatable).")
@click.option("--no-index", is_flag=True, help="Use only --find-links (fully offline).")
def package_cmd(arch: str, output: Path, python_version: str, find_links: tuple[str, ...], no_index: bool) -> None:
    """Build the function's zip: lakebox plus DuckDB's wheel for the Lambda platform, reproducibly."""
    from lakebox.deploy.package import PackageError, build_zip

    console = _console()
    try:
        with console.status(f"building the Lambda package for {arch} / Python {python_version} ..."):
            info = build_zip(output, arch, python_version, find_links=find_links, no_index=no_index)
    except PackageError as exc:
        _fail(exc)
    console.print(f"[green]built[/green] {info.path}: {info.files} files, "
                  f"{info.unzipped_bytes / 2**20:.1f} MiB unzipped (limit 250), "
                  f"{info.zipped_bytes / 2**20:.1f} MiB zipped")
    click.echo(info.sha256)


@deploy.command("up")
@stack_option
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default=None,
              help="Lambda architecture (default: the stack's, x86_64 for a new stack).")
@click.option("--zip", "zip_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A zip from `deploy package` (built on the fly when omitted).")
@click.option("--bucket", default=None, help="Lake bucket name (default: <stack>-<account>-<region>; an "
                                             "existing stack keeps its bucket).")
@click.option("--dashboard/--no-dashboard", default=None,
              help="Create (or remove) the dashboard host. Default: a new stack has none, an existing stack "
                   "keeps what it has.")
@click.option("--dashboard-cidr", default=None, help="Who may reach the dashboard, e.g. 203.0.113.7/32.")
@click.option("--certificate-arn", default=None,
              help="ACM certificate for HTTPS: the dashboard is served through a load balancer on 443.")
@click.option("--catalog-update", type=click.Choice(["direct", "crawler"]), default=None,
              help="After each file: update the Glue table directly (default), or start the crawler.")
@click.option("--parameter", "-p", "extra", multiple=True, metavar="KEY=VALUE",
              help="Any other template parameter (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what would change; create, upload and apply nothing.")
@click.option("--template-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Deploy this JSON/YAML template instead of the built-in one (e.g. an edited copy).")
@region_option
@endpoint_option
@click.pass_context
def up_cmd(ctx: click.Context, stack: str, arch: str | None, zip_path: Path | None, bucket: str | None,
           dashboard: bool | None, dashboard_cidr: str | None, certificate_arn: str | None,
           catalog_update: str | None, extra: tuple[str, ...], dry_run: bool, template_file: Path | None,
           region: str | None, endpoint_url: str | None) -> None:
    """Create or update the stack, showing progress and waiting until it is done.

    On an update, every parameter not given here keeps the value the stack has."""
    from lakebox.deploy.stack import StackError

    settings = _settings(ctx, region, endpoint_url)
    params: dict[str, str] = {}
    for key, setting in (("DatabaseName", "database"), ("TablePrefix", "table_prefix")):
        if settings.sources.get(setting, "default") != "default":
            params[key] = str(getattr(settings, setting))
    for key, value in (("BucketName", bucket), ("DashboardCidr", dashboard_cidr),
                       ("DashboardCertificateArn", certificate_arn), ("CatalogUpdate", catalog_update)):
        if value is not None:
            params[key] = value
    if dashboard is not None:
        params["CreateDashboardHost"] = str(dashboard).lower()
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--parameter")
        params[key] = value
    if dashboard and "DashboardCidr" not in params:
        _console().print("[yellow]note:[/yellow] no --dashboard-cidr: the dashboard is reachable from nowhere "
                         "(use Session Manager port forwarding, or pass your address/32)")
    body = None  # the built-in template, for the lake's datasets
    if template_file is not None:
        import yaml

        body = yaml.safe_load(template_file.read_text(encoding="utf-8"))  # JSON is YAML too
    else:
        from lakebox.deploy.template import build_template

        body = build_template(settings.datasets)
    manager = _manager(ctx, stack, region, endpoint_url)
    try:
        result = manager.up(zip_path=zip_path, arch=arch, parameters=params, dry_run=dry_run, template=body)
    except StackError as exc:
        _fail(exc)
    _print_changes(result.changes)
    console = _console()
    if result.status == "DRY_RUN":
        console.print(f"[bold]dry run[/bold]: {len(result.changes)} change(s) would be applied; nothing was.")
    elif result.status == "NO_CHANGES":
        console.print("stack is up to date: no changes")
    else:
        console.print(f"[green]{result.stack}: {result.status}[/green]")
        for key, value in result.outputs.items():
            console.print(f"  {key:<22} {value}", markup=False)


def _print_changes(changes: list[Any]) -> None:
    if not changes:
        return
    from rich.table import Table

    table = Table("action", "resource", "type", "replacement", title="change set")
    for c in changes:
        table.add_row(c.action, c.logical_id, c.resource_type, c.replacement)
    _console().print(table)


@deploy.command("down")
@stack_option
@click.option("--delete-data", is_flag=True, help="Also delete every object (and version) in the lake bucket.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@region_option
@endpoint_option
@click.pass_context
def down_cmd(ctx: click.Context, stack: str, delete_data: bool, yes: bool, region: str | None,
             endpoint_url: str | None) -> None:
    """Delete the stack; refuses while the lake bucket holds data unless --delete-data."""
    from lakebox.deploy.stack import StackError

    if delete_data and not yes and sys.stdin.isatty():
        click.confirm(f"Delete stack {stack} and ALL data in its bucket?", abort=True)
    manager = _manager(ctx, stack, region, endpoint_url)
    try:
        final = manager.down(delete_data=delete_data)
    except StackError as exc:
        _fail(exc)
    _console().print(f"[green]{stack}: {final}[/green]")


@deploy.command("status")
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@region_option
@endpoint_option
@click.pass_context
def status_cmd(ctx: click.Context, stack: str, as_json: bool, region: str | None, endpoint_url: str | None) -> None:
    """Show the stack's status, outputs and latest events (and why it failed, when it did)."""
    from lakebox.deploy.stack import StackError

    try:
        info = _manager(ctx, stack, region, endpoint_url).status()
    except StackError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    console = _console()
    console.print(f"[bold]{info['stack']}[/bold] ({info['region']}): {info['status']}")
    if info.get("first_failure"):
        console.print(f"  [red]{info['first_failure']}[/red]", markup=True)
    for key, value in info.get("outputs", {}).items():
        console.print(f"  {key:<22} {value}", markup=False)
    for line in info.get("events", []):
        console.print(f"  {line}", markup=False)


@deploy.command("policy")
@stack_option
@click.option("--bucket", default=None, help="The stack's lake bucket (default: from the stack, else the "
                                             "name `up` would give it).")
@region_option
@endpoint_option
@click.pass_context
def policy_cmd(ctx: click.Context, stack: str, bucket: str | None, region: str | None,
               endpoint_url: str | None) -> None:
    """Print the IAM policy `lakebox deploy` itself needs for this stack (JSON, for an identity policy).

    CloudFormation also creates the stack's resources with the same credentials; docs/aws.md lists those
    resource types."""
    from lakebox.deploy.authz import Stack, resolve
    from lakebox.deploy.iam import deployer_policy
    from lakebox.deploy.stack import StackError, bucket_name_for

    manager = _manager(ctx, stack, region, endpoint_url)
    try:
        account, region_name = manager.account_id(), manager.region_name()
        lake = bucket or manager.outputs().get("BucketName") or bucket_name_for(stack, account, region_name)
    except StackError as exc:
        _fail(exc)
    doc = resolve(deployer_policy(), Stack(stack, account, region_name, {"LakeBucket": lake}))
    click.echo(json.dumps(doc, indent=2))
