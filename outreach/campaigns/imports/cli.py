"""`outreach import`: a prospect list into a campaign, from the command line."""
from __future__ import annotations

from pathlib import Path

import click

from outreach.lib.console import campaign_session, fail, load_settings_or_exit, print_json


@click.command("import")
@click.argument("campaign_id", type=int)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "mapping_overrides", multiple=True, metavar="COLUMN=FIELD",
              help="Map a column by its header name, e.g. --map 'Reach=email' (FIELD '' ignores it).")
@click.option("--override", "override_reason", default="",
              help="Import sites in other active campaigns or on the do-not-contact list, for this reason.")
@click.option("--dry-run", is_flag=True, help="Check every row and report, but import nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def import_csv(ctx: click.Context, campaign_id: int, csv_file: Path, mapping_overrides: tuple[str, ...],
               override_reason: str, dry_run: bool, as_json: bool) -> None:
    """Import prospects from CSV_FILE (Ahrefs, Semrush, Moz, Majestic, Search Console, or any CSV)."""
    # imported when the command runs, not with the CLI: `outreach` starts fast
    from outreach.campaigns.imports import service as importer

    try:
        parsed = importer.parse_csv(csv_file.read_bytes())
    except importer.BadImport as exc:
        fail(f"{csv_file}: {exc}")
    mapping = importer.guess_mapping(parsed.headers)
    names = [importer.normalise_header(h) for h in parsed.headers]
    for item in mapping_overrides:
        column, sep, field = item.partition("=")
        if not sep or importer.normalise_header(column) not in names:
            fail(f"--map {item!r}: no column named {column!r} in the file")
        if field and field not in importer.FIELDS:
            fail(f"--map {item!r}: field must be one of {', '.join(importer.FIELDS)}")
        mapping[names.index(importer.normalise_header(column))] = field
    problems = importer.mapping_problems(mapping)
    if problems:
        fail(problems[0])

    settings = load_settings_or_exit(ctx)
    with campaign_session(settings, campaign_id) as (session, campaign):
        plan = importer.plan_import(session, campaign, parsed, mapping)
        if dry_run:
            result = importer.ImportResult(
                imported=0, overridden=0,
                errors=sorted(plan.errors + [importer.RowError(r.line, "conflict: " + "; ".join(r.conflicts),
                                                               r.url) for r in plan.conflicted],
                              key=lambda e: e.line),
                warnings=[importer.RowError(r.line, w, r.url) for r in plan.rows for w in r.warnings])
            ready = len(plan.clean) + (len(plan.conflicted) if override_reason.strip() else 0)
        else:
            # each chunk is committed, so a long import shows its progress and keeps what it wrote
            chunks = importer.import_chunks(session, campaign, plan, override_reason=override_reason,
                                            source=csv_file.name)
            while True:
                try:
                    progress = next(chunks)
                except StopIteration as stop:
                    result = stop.value
                    break
                session.commit()
                click.echo(f"imported {progress.imported} of {progress.total} rows", err=True)
            ready = result.imported
    mapped = {parsed.headers[i]: f for i, f in enumerate(mapping) if f}
    if as_json:
        print_json({"campaign_id": campaign_id, "dry_run": dry_run, "mapping": mapped,
                    "imported": result.imported, "ready": ready, "overridden": result.overridden,
                    "errors": [{"line": e.line, "reason": e.reason, "value": e.value} for e in result.errors],
                    "warnings": [{"line": e.line, "reason": e.reason, "value": e.value} for e in result.warnings]})
        return
    click.echo(f"columns: {', '.join(f'{h} -> {f}' for h, f in mapped.items())}", err=True)
    for error in result.errors:
        click.echo(f"line {error.line}: {error.reason}", err=True)
    for warning in result.warnings:
        click.echo(f"line {warning.line}: {warning.reason}", err=True)
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb} {ready} prospects into campaign {campaign_id}; {len(result.errors)} rows skipped"
               + (f"; {len(result.warnings)} without a contact (bad email)" if result.warnings else ""))
