"""The ``ztad`` command line: generate logs, run days, evaluate, and read findings.

Start-up stays fast: every heavy import (pandas, scikit-learn, TensorFlow) happens inside the
sub-command that needs it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from datetime import date, timedelta
from pathlib import Path

EPILOG = """\
examples:
  ztad generate --out logs --start 2026-03-02 --days 45 --users 200
  ztad run --logs logs --day 2026-03-20
  ztad run --logs logs --start 2026-03-16 --end 2026-04-15      # a backfill
  ztad run --logs /var/log/ssh --format sshd --option year=2026 --option timezone=Europe/Madrid \
      --option geoip_city_db=GeoLite2-City.mmdb --option geoip_asn_db=GeoLite2-ASN.mmdb
  ztad evaluate --logs logs --cutoff 2026-03-16 --report report
  ztad evaluate --logs logs --cutoff 2026-03-16 --report report --ablation
  ztad findings --day 2026-03-20
  ztad triage list --day 2026-03-20
  ztad triage incident 2026-03-20:user:u00042 --status false_positive --note "travelling"
  ZTAD_API_TOKEN=... ztad serve --port 8000          # the /predict API
  ZTAD_API_TOKEN=... ztad dashboard --port 8501      # the triage dashboard

environment: ZTAD_HOME (state folder, default ./ztad-home), ZTAD_DATABASE_URL (findings
database; default a SQLite file in ZTAD_HOME), ZTAD_LOG_ROOT, ZTAD_LOG_FORMAT, ZTAD_RULE_<NAME>
(a rule threshold, e.g. ZTAD_RULE_SPRAY_MIN_USERS=15), ZTAD_API_TOKEN / ZTAD_API_READ_TOKEN
(bearer tokens of serve and dashboard: read and triage / read only).
"""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-20") from None


def _alert_budget(detection, args):
    """The budget asked for on the command line wins over one from the environment."""
    from dataclasses import replace

    daily = getattr(args, "max_alerts_per_day", None)
    if daily is not None and not 0 < daily < float("inf"):
        raise ValueError(f"--max-alerts-per-day {daily}: expected a positive number of alerts per day")
    if getattr(args, "target_fpr", None) is not None and daily is None:
        return replace(detection, max_alerts_per_day=None)
    return detection


def _days_count(text: str) -> int:
    """A positive whole number of days, for a flag that counts days."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of days")
    return value


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logs", help="log root: partition folder, flat file or URL ($ZTAD_LOG_ROOT)")
    parser.add_argument(
        "--format",
        help="csv, parquet, jsonl, or a vendor format: sshd, windows, okta, entra, mapping",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="source option, e.g. --option year=2026 --option timezone=Europe/Madrid; "
        "--option geoip_city_db=PATH / geoip_asn_db=PATH locate addresses with MaxMind databases",
    )
    parser.add_argument("--home", type=Path, help="state folder ($ZTAD_HOME, default ./ztad-home)")
    parser.add_argument("--db", help="findings database URL ($ZTAD_DATABASE_URL; default SQLite)")
    parser.add_argument("--history-days", type=int, help="baseline window in days (default 30)")
    parser.add_argument(
        "--target-fpr", type=float, help="alert budget as a false-positive rate (default 0.001)"
    )
    parser.add_argument(
        "--max-alerts-per-day", type=float, metavar="N",
        help="alert budget as a mean count of model alerts per day, instead of --target-fpr "
        "($ZTAD_MAX_ALERTS_PER_DAY)",
    )
    parser.add_argument(
        "--min-training-days", type=_days_count, metavar="N",
        help="days with events the training window needs before a first model is trained (default 7)",
    )
    parser.add_argument("--seed", type=int, help="random seed for training (default 42)")
    parser.add_argument(
        "--sensitive-resources", metavar="NAMES",
        help="resources whose access weighs more, separated by commas ($ZTAD_SENSITIVE_RESOURCES)",
    )
    parser.add_argument(
        "--public-holidays", action="store_true",
        help="count public holidays of the login's country as days off ($ZTAD_PUBLIC_HOLIDAYS)",
    )
    parser.add_argument(
        "--company-holidays", metavar="DATES",
        help="organisation-wide days off, ISO dates separated by commas ($ZTAD_COMPANY_HOLIDAYS)",
    )
    parser.add_argument(
        "--detectors",
        help="comma-separated ensemble members (default isolation_forest,ocsvm,autoencoder,ecod)",
    )
    parser.add_argument(
        "--rule", action="append", default=[], metavar="NAME=VALUE",
        help="a behavioural rule's threshold, e.g. --rule spray_min_users=15 ($ZTAD_RULE_<NAME>; "
        "names in the README's configuration table)",
    )
    parser.add_argument(
        "--no-labels", action="store_true",
        help="ignore event_label in history: learn from every event, not only those labelled "
        "normal ($ZTAD_USE_LABELS=0)",
    )


def _rule_thresholds(items: list[str], base):
    """``--rule NAME=VALUE`` options applied over the thresholds from the environment."""
    from ztad.config import rule_thresholds

    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--rule {item!r}: expected NAME=VALUE, e.g. --rule spray_min_users=15")
        values[name.strip()] = value
    return rule_thresholds(values, base, where="--rule")


def _job_config(args: argparse.Namespace):
    from dataclasses import replace

    from ztad.config import JobConfig, comma_list, holiday_settings

    config = JobConfig.from_env()
    source = config.source
    if args.logs:
        source = replace(source, root=args.logs)
    if args.format:
        source = replace(source, format=args.format)
    if args.option:
        options = dict(source.options)
        for item in args.option:
            key, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"--option {item!r}: expected KEY=VALUE")
            options[key] = value
        source = replace(source, options=options)
    detection = config.detection
    for name in ("history_days", "target_fpr", "max_alerts_per_day", "min_training_days", "seed"):
        value = getattr(args, name, None)
        if value is not None:
            detection = replace(detection, **{name: value})
    detection = _alert_budget(detection, args)
    if getattr(args, "detectors", None):
        detection = replace(detection, detectors=tuple(args.detectors.split(",")))
    if getattr(args, "rule", None):
        detection = replace(detection, rule_thresholds=_rule_thresholds(args.rule, detection.rule_thresholds))
    if getattr(args, "sensitive_resources", None):
        detection = replace(detection, sensitive_resources=comma_list(args.sensitive_resources))
    public, company = getattr(args, "public_holidays", False), getattr(args, "company_holidays", None)
    if public or company:
        try:
            settings = holiday_settings(public, company)
        except ValueError as error:
            raise SystemExit(f"--company-holidays: {error}") from None
        detection = replace(detection, feature_settings=settings)
    changes = {"source": source, "detection": detection}
    if getattr(args, "no_labels", False):
        changes["use_labels"] = False
    if args.home:
        changes["home"] = args.home.resolve()
    if args.db:
        changes["database_url"] = args.db
    return config.with_overrides(**changes)


# --------------------------------------------------------------------------- commands


def cmd_generate(args: argparse.Namespace) -> int:
    from ztad.synth import generate

    def progress(done: int, total: int) -> None:
        print(f"\rgenerating day {done}/{total}", end="", file=sys.stderr, flush=True)

    common = {"start": args.start, "days": args.days, "users": args.users, "seed": args.seed,
              "layout": "flat" if args.flat else "partitioned", "fmt": args.out_format, "progress": progress}
    if args.shape == "origin":
        from ztad.synth.origin_shape import generate_origin_shaped

        summary = generate_origin_shaped(args.out, rows=args.rows, **common)
    else:
        summary = generate(args.out, attack_rate=args.attack_rate, clean_days=args.clean_days, **common)
    print(file=sys.stderr)
    print(summary)
    return 0


def _day_runner(shards: int):
    """``run(day, config, **options)`` for one day, in ``shards`` shards of users when > 1."""
    from ztad import pipeline
    from ztad.pipeline.shards import check_count

    count = check_count(shards)
    if count == 1:
        return pipeline.run_day
    return lambda day, config, **options: pipeline.run_sharded_day(day, config, count, **options)


def cmd_run(args: argparse.Namespace) -> int:
    from ztad.store import safe_url

    config = _job_config(args)
    if args.day and (args.start or args.end):
        raise SystemExit("give either --day or --start/--end, not both")
    if args.day:
        start = end = args.day
    elif args.start:
        start, end = args.start, args.end or args.start
    else:
        start = end = date.today() - timedelta(days=1)
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    options = {
        "retrain": args.retrain, "dry_run": args.dry_run, "on_missing": args.on_missing,
        "wait_timeout": args.wait_timeout * 60, "lock_timeout": args.lock_timeout * 60,
    }
    run_day = _day_runner(args.shards)
    total = (end - start).days + 1
    for offset in range(total):
        summary = run_day(start + timedelta(days=offset), config, **options)
        print(progress_line(summary, offset + 1, total), flush=True)
    _print_label_trust(config)
    if not args.dry_run:
        print(f"findings database: {safe_url(config.resolved_database_url)}")
    return 0


def progress_line(summary, done: int, total: int) -> str:
    """One line per day of a run: what it read and flagged, and how it was judged."""
    head = f"[{done}/{total}] {summary.day} {summary.status}"
    if summary.status == "skipped":
        return f"{head}: no logs, skipped (--on-missing skip)"
    counts = f"read {summary.rows_read}, quarantined {summary.rows_quarantined}"
    if summary.rows_duplicate:
        counts += f", duplicates {summary.rows_duplicate}"
    if summary.rows_skipped:
        counts += f", not sign-ins {summary.rows_skipped}"
    if summary.files_skipped:
        counts += f", files not read {len(summary.files_skipped)}"
    seconds = f"in {summary.seconds:.1f}s"
    if summary.status == "empty":
        return f"{head}: {counts}, no events {seconds}"
    judged = (
        f"rules only, model after {summary.lacking}" if summary.status == "learning"
        else f"model {summary.model_version}, {summary.model_action}"
    )
    scored = f"scored {summary.rows_scored}, flagged {summary.rows_flagged}"
    return f"{head}: {counts}, {scored} ({judged}) {seconds}"


def _print_label_trust(config) -> None:
    """How much labelled history the baselines and detectors learnt from, and left out."""
    from ztad.pipeline.history import label_trust_counts

    counts = label_trust_counts(config)
    if counts["days"]:
        print(f"labelled history ({counts['days']} days): learnt from {counts['trusted']:,} events labelled "
              f"normal, excluded {counts['excluded']:,} (other labels or none); --no-labels ignores labels")
    elif not config.use_labels:
        print("labels ignored (--no-labels / ZTAD_USE_LABELS=0): history is learnt from every event")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ztad.evaluation.evaluate import evaluate

    config = _job_config(args)
    metrics = evaluate(
        config.source,
        cutoff=args.cutoff,
        split=args.split,
        report_dir=args.report,
        config=config,
        progress=lambda text: print(text, file=sys.stderr, flush=True),
        rerun=not args.reuse,
        ablation=args.ablation,
        frozen=not args.no_frozen,
    )
    for key, title in (("ztad", "ztad walk-forward"), ("ztad_frozen", "ztad frozen")):
        final = (metrics.get(key) or {}).get("final")
        if final:
            print(f"{title:<23} {_headline(final)}")
            if (final.get("operating") or {}).get("attacks"):
                print(f"{'':<23} {_attack_line(final['operating'])}")
    for name, values in metrics.get("origin", {}).items():
        if isinstance(values, dict) and "roc_auc" in values:
            print(f"{'origin ' + name:<23} {_headline(values)}")
    about = metrics.get("origin_sweep_protocol") or {}
    if about and not about.get("ran"):
        print(f"origin tuning sweep not run: {about.get('reason')}")
    _print_budget(metrics.get("budget"))
    _print_ablation(metrics.get("ablation"))
    if args.report:
        print(f"report: {Path(args.report).resolve() / 'report.html'}")
    return 0


def _headline(values: dict) -> str:
    """ROC-AUC, PR-AUC and recall at a 1 % false-positive rate of one detector's metrics."""
    recall = values.get("at_budget", {}).get("fpr_0.01", {}).get("recall", float("nan"))
    return f"ROC-AUC {values['roc_auc']:.3f}  PR-AUC {values['pr_auc']:.3f}  recall@1%FPR {recall:.3f}"


def _attack_line(operating: dict) -> str:
    """Attacks caught and false incidents per day at the operating threshold."""
    attacks = operating["attacks"]
    worst = min(attacks["per_category"].items(), key=lambda item: item[1]["recall"], default=None)
    weakest = f" (weakest: {worst[0]} {worst[1]['recall']:.0%})" if worst else ""
    line = f"attacks caught {attacks['caught']}/{attacks['attacks']} ({attacks['recall']:.1%}){weakest}"
    incidents = operating.get("incidents")
    if incidents:
        line += (f"; false incidents/day {incidents['false_per_day']:.1f} "
                 f"(first two weeks {incidents['false_per_day_first_weeks']:.1f})")
    return line


def _print_budget(budget: dict | None) -> None:
    """One line per decision: alerts and false positives against the budget, all days."""
    if not budget:
        return
    total = budget["total"]

    def judged(ratio, within) -> str:
        return "ratio n/a" if ratio is None else f"ratio {ratio:.2f} {'held' if within else 'NOT held'}"

    for name, title in (("model", "ensemble alone"), ("final", "final, with rules")):
        part = total[name]
        print(
            f"budget {title:<18} {part['alerts']} alerts / {total['expected_alerts']:.1f} expected "
            f"({judged(part['ratio'], part['within'])}); {part['false_positives']} false positives / "
            f"{total['expected_fp']:.1f} allowed ({judged(part['fp_ratio'], part['fp_within'])}); "
            f"±{budget['tolerance']:.0%} over {total['days']} days"
        )


def _print_ablation(ablation: dict | None) -> None:
    """False positives on all hard negatives with and without the logic, per comparison point."""
    if not ablation:
        return
    for point, table in ablation["points"].items():
        row = table["all_hard_negatives"]
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(
            f"hard negatives at {point}: {row['with']} false positives with the logic, "
            f"{row['without']} without (ratio {ratio}, {'met' if row['met'] else 'NOT met'} "
            f"<= {ablation['max_ratio']:g})"
        )


def cmd_findings(args: argparse.Namespace) -> int:
    import pandas as pd

    from ztad.store import FindingsStore

    config = _job_config(args)
    frame = FindingsStore(config.resolved_database_url).findings(day=args.day, user_id=args.user)
    if frame.empty:
        print("no findings")
        return 0
    columns = ["event_time", "user_id", "location", "resource", "score", "reasons"]
    frame = frame[columns].head(args.limit).copy()
    frame["reasons"] = frame["reasons"].map(lambda rs: "; ".join(r["text"] for r in rs))
    with pd.option_context("display.max_colwidth", 120, "display.width", 200):
        print(frame.to_string(index=False))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ztad.store import FindingsStore

    config = _job_config(args)
    frame = FindingsStore(config.resolved_database_url).runs()
    columns = [
        "day", "status", "rows_read", "rows_quarantined", "rows_scored", "rows_flagged",
        "model_version", "model_action", "lacking",
    ]
    print(frame[columns].to_string(index=False) if not frame.empty else "no runs")
    return 0


def cmd_triage(args: argparse.Namespace) -> int:
    import pandas as pd

    from ztad.feedback.triage import listing, update
    from ztad.store import FindingsStore

    config = _job_config(args)
    with FindingsStore(config.resolved_database_url) as store:
        store.create_schema()  # a database of an earlier release has no incidents yet
        if args.triage_command == "list":
            target = "finding" if args.findings else "incident"
            frame = listing(store, target, day=args.day, status=args.status, limit=args.limit)
            if frame.empty:
                print(f"no {args.status} {target}s")
                return 0
            with pd.option_context("display.max_colwidth", 100, "display.width", 220):
                print(frame.to_string(index=False))
            return 0
        row = update(
            store, args.triage_command, args.id, status=args.status, assignee=args.assignee, note=args.note
        )
    print(f"{args.triage_command} {args.id}: status {row['status']}, assignee {row['assignee'] or '-'}")
    if row.get("notes"):
        print(f"notes:\n{row['notes']}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``ztad serve`` and ``ztad dashboard``: the same app, the dashboard with its pages; with
    ``--workers N`` above 1, served by N processes (:mod:`ztad.service.workers`)."""
    from ztad.service.auth import ServiceSettings

    config = _job_config(args)
    settings = ServiceSettings.from_env(token_connection=args.token_connection)
    dashboard = args.command == "dashboard"
    if args.workers > 1:
        return _serve_workers(args, config, settings, dashboard)
    import uvicorn

    from ztad.service.api import create_app

    app = create_app(config, settings, dashboard=dashboard)
    _print_serving(args, config)
    uvicorn.run(
        app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
    )
    return 0


def _positive_count(text: str) -> int:
    """A whole number of processes, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of processes, 1 or more")
    return int(text)


def _serve_workers(args: argparse.Namespace, config, settings, dashboard: bool) -> int:
    from functools import partial

    from ztad.service.workers import check_service, listening_sockets, serve_workers

    check_service(config, settings)
    listeners = listening_sockets(args.host, args.port, args.workers)
    _print_serving(args, config)
    return serve_workers(
        config, settings, listeners, dashboard=dashboard, verbose=args.verbose,
        setup=partial(quiet_libraries, args.verbose),
    )


def _print_serving(args: argparse.Namespace, config) -> None:
    from ztad.store import safe_url

    what = "dashboard" if args.command == "dashboard" else "API"
    workers = f", {args.workers} worker processes" if args.workers > 1 else ""
    print(
        f"ztad {what} on http://{args.host}:{args.port} "
        f"(findings database: {safe_url(config.resolved_database_url)}{workers})",
        file=sys.stderr,
        flush=True,
    )


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ztad",
        description="Zero-trust anomaly detection for authentication logs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = commands.add_parser("generate", help="write synthetic auth logs with labelled attacks")
    gen.add_argument("--out", type=Path, required=True, help="output folder")
    gen.add_argument("--start", type=_day, default=date(2026, 3, 2), help="first day")
    gen.add_argument("--days", type=int, default=45)
    gen.add_argument("--users", type=int, default=200)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--attack-rate", type=float, default=0.01, help="share of attack events")
    gen.add_argument("--clean-days", type=int, default=14, help="days before any attack")
    gen.add_argument("--flat", action="store_true", help="one flat file instead of partitions")
    gen.add_argument("--out-format", default="csv", choices=["csv", "parquet", "jsonl"])
    gen.add_argument(
        "--shape", default="org", choices=["org", "origin"],
        help="org (default): an organisation's complete logs, attacks after a clean history; origin: a set "
        "shaped like the origin data set (--rows rows, 40%% anomalous, rows drawn independently over the "
        "period; evaluate it with --split random)",
    )
    gen.add_argument("--rows", type=int, default=50_000, help="rows of --shape origin (default 50000)")
    gen.set_defaults(handler=cmd_generate)

    run = commands.add_parser("run", help="score one day, or a range of days (backfill)")
    _add_job_options(run)
    run.add_argument("--day", type=_day, help="the day to score (default: yesterday)")
    run.add_argument("--start", type=_day, help="first day of a backfill")
    run.add_argument("--end", type=_day, help="last day of a backfill (inclusive)")
    run.add_argument("--retrain", action="store_true", help="train a new model first")
    run.add_argument("--dry-run", action="store_true", help="score, but write no findings, run record or baseline (a model it trains is registered)")
    run.add_argument(
        "--on-missing", choices=["fail", "skip", "wait"], default="fail",
        help="when a day has no logs: fail (default; the run stops with an error), skip the day "
        "(recorded as skipped) or wait for them (--wait-timeout); the DAG's on_missing_partition",
    )
    run.add_argument(
        "--wait-timeout", type=float, default=360.0, metavar="MINUTES",
        help="with --on-missing wait: how long to wait for a day's logs (default 360)",
    )
    run.add_argument(
        "--lock-timeout", type=float, default=360.0, metavar="MINUTES",
        help="how long to wait for another run of the same day on the same --home (default 360)",
    )
    run.add_argument(
        "--shards", type=int, default=1,
        help="compute and score each day in N shards of users, one after another (the same "
        "findings; what the DAG spreads over workers); default 1",
    )
    run.set_defaults(handler=cmd_run)

    ev = commands.add_parser("evaluate", help="measure detection on labelled logs")
    _add_job_options(ev)
    ev.add_argument("--cutoff", type=_day, help="first scored day (default: after 14 days)")
    ev.add_argument("--split", choices=["time", "random"], default="time")
    ev.add_argument("--report", type=Path, help="folder for report.html and metrics.json")
    ev.add_argument(
        "--reuse",
        action="store_true",
        help="read the scored days already in --home instead of re-running them afresh",
    )
    ev.add_argument(
        "--no-frozen",
        action="store_true",
        help="skip ztad's frozen mode (detectors trained once at the cut-off, like the origin "
        "method), which is scored beside the walk-forward run by default",
    )
    ev.add_argument(
        "--ablation",
        action="store_true",
        help="also score the days without the known-network and cold-start logic and compare "
        "false positives on the hard negatives (twice the run time)",
    )
    ev.set_defaults(handler=cmd_evaluate)

    fi = commands.add_parser("findings", help="print findings from the database")
    _add_job_options(fi)
    fi.add_argument("--day", type=_day)
    fi.add_argument("--user")
    fi.add_argument("--limit", type=int, default=50)
    fi.set_defaults(handler=cmd_findings)

    ru = commands.add_parser("runs", help="print the run records")
    _add_job_options(ru)
    ru.set_defaults(handler=cmd_runs)

    tr = commands.add_parser("triage", help="set the status, assignee and notes of findings and incidents")
    targets = tr.add_subparsers(dest="triage_command", required=True, metavar="TARGET")
    for target in ("finding", "incident"):
        one = targets.add_parser(target, help=f"triage one {target} by id")
        _add_job_options(one)
        one.add_argument("id", help=f"the {target} id, as `ztad triage list` prints it")
        one.add_argument(
            "--status", help="new, investigating, false_positive, confirmed or resolved"
        )
        one.add_argument("--assignee", help="who handles it")
        one.add_argument("--note", help="a note, appended with the time")
        one.set_defaults(handler=cmd_triage)
    ls = targets.add_parser("list", help="list incidents (or findings) to triage, most severe first")
    _add_job_options(ls)
    ls.add_argument("--day", type=_day)
    ls.add_argument("--findings", action="store_true", help="list findings instead of incidents")
    ls.add_argument("--status", default="open", help="open (default), all, or one status")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(handler=cmd_triage)

    for name, port, about in (
        ("serve", 8000, "serve the /predict API, findings, incidents and triage over HTTP"),
        ("dashboard", 8501, "serve the triage dashboard (and the API) over HTTP"),
    ):
        web = commands.add_parser(name, help=about)
        _add_job_options(web)
        web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        web.add_argument("--port", type=int, default=port, help=f"port to listen on (default {port})")
        web.add_argument(
            "--workers",
            type=_positive_count,
            default=1,
            metavar="N",
            help="worker processes answering on the port, each with the model and baselines loaded "
            "(default 1: one process)",
        )
        web.add_argument(
            "--token-connection",
            metavar="CONN_ID",
            help="read the bearer tokens from this Airflow connection: password = read and triage, "
            "extra read_token = read only ($ZTAD_API_TOKEN_CONNECTION)",
        )
        web.set_defaults(handler=cmd_serve)
    return parser


def quiet_libraries(verbose: bool) -> None:
    """Library chatter only with ``-v``: logging at WARNING (ztad's own warnings stay), Python
    warnings and TensorFlow's C++ log (CUDA probing, NodeDef notices) silenced."""
    import warnings

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose else "ztad: %(message)s",
    )
    if verbose:
        return
    # Set, not defaulted: a level inherited from the environment (2 is common) would let
    # TensorFlow's error-level start-up notices through, and quiet output is the default.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    warnings.simplefilter("ignore")
    for name in ("tensorflow", "absl", "h5py", "numexpr"):
        logging.getLogger(name).setLevel(logging.ERROR)


#: Errors that are expected conditions (bad settings or input, no logs, a day locked, the
#: database unreachable): one line, ``ztad: error: ...``, and exit code 2; ``-v`` adds the
#: traceback. Anything else is a bug and shows its traceback.
EXPECTED_ERRORS = (ValueError, FileNotFoundError, PermissionError, TimeoutError, ConnectionError)


def error_line(error: BaseException) -> str:
    """The one line an expected error ends in."""
    text = " ".join(str(error).split()) or type(error).__name__
    return f"ztad: error: {text}"


def database_error_line(error: BaseException) -> str | None:
    """The one line of a findings database that refused or dropped the connection outside a
    run (``ztad runs``, ``ztad findings`` ...), or ``None`` for any other error."""
    if not type(error).__module__.startswith("sqlalchemy"):
        return None
    from sqlalchemy.exc import DBAPIError

    if not isinstance(error, DBAPIError):
        return None
    cause = " ".join(str(error.orig).split()) or type(error.orig).__name__
    hint = "check --db / ZTAD_DATABASE_URL and the server"
    return f"ztad: error: the findings database failed: {cause} ({hint})"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ztad`` command, for callers that go on afterwards: its exit code."""
    return run_command(build_parser().parse_args(argv))


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit code, with a one-line message for an expected error."""
    quiet_libraries(args.verbose)
    try:
        return args.handler(args)
    except BrokenPipeError:  # the reader went away (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:
        line = error_line(error) if isinstance(error, EXPECTED_ERRORS) else database_error_line(error)
        if line is None:
            raise  # not an expected condition: a bug, with its traceback
        if args.verbose:
            traceback.print_exc()
        print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ztad: interrupted", file=sys.stderr)
        return 130


#: Commands after which the ``ztad`` process ends at once, its output flushed: a night's run
#: has written and closed all it keeps by then, and freeing what it held object by object
#: (a million events' worth) would take about a second more.
ENDS_AT_ONCE = frozenset({"run"})


def entry() -> None:
    """The ``ztad`` command: :func:`run_command`, whose exit code ends the process."""
    args = build_parser().parse_args()
    code = run_command(args)
    if args.command in ENDS_AT_ONCE:
        end_now(code)
    sys.exit(code)


def end_now(code: int) -> None:
    """End the process with ``code`` without tearing down its objects: what it printed or
    logged is flushed first, as an interpreter's own exit would."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
