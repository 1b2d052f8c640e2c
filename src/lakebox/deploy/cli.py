"""``lakebox deploy ...``: thin click wrappers over template, package and stack.

The main CLI adds this group with ``main.add_command(deploy)`` and passes its settings in
``ctx.obj["settings"]``; run on its own (tests), the group loads settings itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _settings(ctx: click.Context) -> Any:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    if obj.get("settings") is not None:
        return obj["settings"]
    from lakebox.config import load_settings

    return load_settings()


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _manager(ctx: click.Context, stack: str, region: str | None, endpoint_url: str | None) -> Any:
    from lakebox.deploy.stack import StackManager

    settings = _settings(ctx)
    console = _console()
    return StackManager(stack, region=region or settings.region,
                        endpoint_url=endpoint_url or settings.endpoint_url,
                        log=lambda line: console.print(line, markup=False))


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc)) from exc


stack_option = click.option("--stack", "stack", required=True, help="CloudFormation stack name.")
region_option = click.option("--region", default=None, help="AWS region (default: the settings' region).")
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
def template_cmd(fmt: str, output: Path | None) -> None:
    """Print the CloudFormation template (lint it with cfn-lint, deploy it with `deploy up`)."""
    from lakebox.deploy.template import render

    text = render(fmt)
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
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default="x86_64", show_default=True)
@click.option("--zip", "zip_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A zip from `deploy package` (built on the fly when omitted).")
@click.option("--bucket", default=None, help="Lake bucket name (default: <stack>-<account>).")
@click.option("--dashboard/--no-dashboard", default=False, show_default=True,
              help="Also run the dashboard on an EC2 instance.")
@click.option("--dashboard-cidr", default=None, help="Who may reach the dashboard, e.g. 203.0.113.7/32.")
@click.option("--catalog-update", type=click.Choice(["direct", "crawler"]), default="direct", show_default=True,
              help="After each file: update the Glue table directly, or start the crawler.")
@click.option("--parameter", "-p", "extra", multiple=True, metavar="KEY=VALUE",
              help="Any other template parameter (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show the change set and apply nothing.")
@click.option("--template-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Deploy this JSON/YAML template instead of the built-in one (e.g. an edited copy).")
@region_option
@endpoint_option
@click.pass_context
def up_cmd(ctx: click.Context, stack: str, arch: str, zip_path: Path | None, bucket: str | None, dashboard: bool,
           dashboard_cidr: str | None, catalog_update: str, extra: tuple[str, ...], dry_run: bool,
           template_file: Path | None, region: str | None, endpoint_url: str | None) -> None:
    """Create or update the stack, showing progress and waiting until it is done."""
    from lakebox.deploy.stack import StackError

    params: dict[str, str] = {"CatalogUpdate": catalog_update, "CreateDashboardHost": str(dashboard).lower()}
    settings = _settings(ctx)
    params["DatabaseName"], params["TablePrefix"] = settings.database, settings.table_prefix
    if bucket:
        params["BucketName"] = bucket
    if dashboard_cidr:
        params["DashboardCidr"] = dashboard_cidr
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--parameter")
        params[key] = value
    if dashboard and not dashboard_cidr and "DashboardCidr" not in params:
        _console().print("[yellow]note:[/yellow] no --dashboard-cidr: the dashboard port is reachable from nowhere")
    body = None
    if template_file is not None:
        import yaml

        body = yaml.safe_load(template_file.read_text(encoding="utf-8"))  # JSON is YAML too
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
    """Show the stack's status, outputs and latest events."""
    info = _manager(ctx, stack, region, endpoint_url).status()
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    console = _console()
    console.print(f"[bold]{info['stack']}[/bold]: {info['status']}")
    for key, value in info.get("outputs", {}).items():
        console.print(f"  {key:<22} {value}", markup=False)
    for line in info.get("events", []):
        console.print(f"  {line}", markup=False)
